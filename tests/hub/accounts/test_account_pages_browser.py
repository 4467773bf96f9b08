"""Every page this feature adds, at 1280 and 390 px wide: no horizontal overflow of the
page, and a screenshot kept under ``test-artifacts/screenshots/account/``."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest

from tests.conftest import HUB_ADMIN_PASSWORD, HUB_USER_PASSWORD
from tests.hub.accounts.live_hub import live_hub

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots" / "account"
WIDTHS = {"wide": (1280, 800), "phone": (390, 844)}


def _check(page, name: str, size: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{name} at {size}: the page is {scroll} px wide in a {inner} px window"


def _login(page, base: str, login: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]:has-text('Log in')")


@pytest.mark.parametrize("size", sorted(WIDTHS))
def test_account_pages_fit(hub_config, clock, browser, size: str) -> None:  # type: ignore[no-untyped-def]
    width, height = WIDTHS[size]
    with live_hub(hub_config, clock, MFA_REQUIRED="admins") as (app, base):
        context = browser.new_context(viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            page.set_default_timeout(10_000)
            page.goto(f"{base}/login")
            _check(page, "login", size)
            page.goto(f"{base}/forgot-password")
            _check(page, "forgot-password", size)
            page.fill("input[name=email]", "ann@example.com")
            page.click("button:has-text('Send the link')")
            _check(page, "forgot-password-sent", size)

            _login(page, base, "ann", HUB_USER_PASSWORD)
            page.goto(f"{base}/account/totp")
            _check(page, "totp-setup", size)
            box = page.locator(".qr-box svg").bounding_box()
            assert box and box["width"] >= 150  # the QR code is drawn (the CSP lets it through)
            secret = re.search(r"[A-Z2-7]{32}", page.text_content("code.secret-key") or "").group(0)  # type: ignore[union-attr]
            page.fill("input[name=code]", pyotp.TOTP(secret).at(clock.time()))
            page.click("button:has-text('Turn on')")
            _check(page, "recovery-codes", size)
            page.click("text=I have saved them, continue")
            _check(page, "account", size)
            if page.locator("label[for=menu-toggle]").is_visible():  # the folded menu at 390 px
                page.click("label[for=menu-toggle]")
            page.click("header button:has-text('Log out')")

            clock.advance(30)
            _login(page, base, "ann", HUB_USER_PASSWORD)
            page.wait_for_url(f"{base}/login/verify")
            _check(page, "second-step", size)
            page.fill("input[name=code]", "000000")
            page.click("button:has-text('Continue')")
            _check(page, "second-step-wrong-code", size)

            context.clear_cookies()
            _login(page, base, "admin", HUB_ADMIN_PASSWORD)
            page.wait_for_url(f"{base}/login/setup")
            _check(page, "required-setup", size)
        finally:
            context.close()
        context = browser.new_context(viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            with app.app_context():
                from sso.accounts.service import find_user

                ann_id = find_user("ann").id
            from sso.accounts.factors import reset_factors

            with app.app_context():
                reset_factors(find_user("admin"), actor="test")
            # The admin sees the user page with the reset buttons (after setting up their own factor).
            _login(page, base, "admin", HUB_ADMIN_PASSWORD)
            page.wait_for_url(f"{base}/login/setup")
            secret = re.search(r"[A-Z2-7]{32}", page.text_content("code.secret-key") or "").group(0)  # type: ignore[union-attr]
            page.fill("input[name=code]", pyotp.TOTP(secret).at(clock.time()))
            page.click("button:has-text('Turn on')")
            page.goto(f"{base}/admin/users/{ann_id}")
            _check(page, "admin-user-reset-buttons", size)
            page.click("button:has-text('Reset password')")
            _check(page, "admin-password-reset", size)
        finally:
            context.close()
