"""Helpers of the second-factor tests: enrol TOTP through the real pages, make codes."""

from __future__ import annotations

import re

import pyotp


def totp_code(secret: str, clock, offset_steps: int = 0) -> str:  # type: ignore[no-untyped-def]
    return pyotp.TOTP(secret).at(clock.time() + 30 * offset_steps)


def secret_on_page(html: str) -> str:
    found = re.search(r'<code class="secret-key">([A-Z2-7]+)</code>', html)
    assert found, "no TOTP key on the page"
    return found.group(1)


def codes_on_page(html: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>", html)


def enrol_totp(client, clock) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """Signed in: set up TOTP on /account/totp; returns the secret and the recovery codes."""
    page = client.get("/account/totp")
    assert page.status_code == 200
    secret = secret_on_page(page.get_data(as_text=True))
    done = client.post("/account/totp", data={"code": totp_code(secret, clock)})
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = codes_on_page(done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes
