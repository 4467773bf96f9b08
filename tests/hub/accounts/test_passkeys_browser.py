"""Passkeys end to end: real WebAuthn ceremonies from Debian's chromium with a virtual
authenticator (Chrome DevTools Protocol), against the hub on a loopback server.

Registration on the account page, passwordless sign-in from the login page, the passkey
as the second step after a password, and the refusals (unknown passkey, disabled account).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import HUB_USER_PASSWORD
from tests.hub.accounts.live_hub import live_hub

pytestmark = pytest.mark.browser


@pytest.fixture
def hub(hub_config, clock) -> Iterator[tuple[Any, str]]:  # type: ignore[no-untyped-def]
    with live_hub(hub_config, clock) as running:
        yield running


@pytest.fixture
def page(browser) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True,
    }})
    yield page
    context.close()


def _password_login(page, base: str, login: str = "ann", password: str = HUB_USER_PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]:has-text('Log in')")


def _log_out(page) -> None:  # type: ignore[no-untyped-def]
    if page.locator("label[for=menu-toggle]").is_visible():  # the folded menu at 390 px
        page.click("label[for=menu-toggle]")
    page.click("header button:has-text('Log out')")
    page.wait_for_selector("text=signed out")


def _add_passkey(page, base: str, name: str = "Laptop") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/account/")
    page.fill("#passkey-name", name)
    page.click("button:has-text('Add a passkey')")
    page.wait_for_selector("text=Your passkey is added")


def _events(app) -> list[str]:  # type: ignore[no-untyped-def]
    from sso.audit.models import AuditEvent
    from sso.base.db import db

    with app.app_context():
        return [e.event for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


def test_register_then_sign_in_without_a_password(hub, page) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.factor_models import Passkey
    from sso.base.db import db

    app, base = hub
    _password_login(page, base)
    _add_passkey(page, base)
    assert page.locator("text=Laptop").count() == 1
    with app.app_context():
        key = db.session.scalars(sa.select(Passkey)).one()
        assert key.name == "Laptop" and key.last_used_at is None
    _log_out(page)

    page.goto(f"{base}/login?next=/account/")
    page.click("button:has-text('Sign in with a passkey')")
    page.wait_for_url(f"{base}/account/")
    assert page.locator("h1:has-text('Your account')").count() == 1
    with app.app_context():
        key = db.session.scalars(sa.select(Passkey)).one()
        assert key.last_used_at is not None
    assert "passkey_login" in _events(app)


def test_passkey_as_the_second_step(hub, page) -> None:  # type: ignore[no-untyped-def]
    app, base = hub
    _password_login(page, base)
    _add_passkey(page, base)
    _log_out(page)
    _password_login(page, base)
    page.wait_for_url(f"{base}/login/verify")
    assert page.locator("text=Use your passkey, or enter one of your recovery codes.").count() == 1
    page.click("button:has-text('Use a passkey')")
    page.wait_for_url(f"{base}/")
    assert page.locator("text=Hello, Ann Example").count() == 1
    assert _events(app)[-1] == "factor_ok"


def test_a_passkey_the_hub_forgot_is_refused(hub, page) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.factors import reset_factors
    from sso.accounts.service import find_user

    app, base = hub
    _password_login(page, base)
    _add_passkey(page, base)
    _log_out(page)
    with app.app_context():
        reset_factors(find_user("ann"), actor="admin")
    page.goto(f"{base}/login")
    page.click("button:has-text('Sign in with a passkey')")
    page.wait_for_selector("#passkey-error:has-text('did not work')")
    assert page.url == f"{base}/login"


def test_a_disabled_account_answers_like_a_wrong_passkey(hub, page) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import find_user, update_user

    app, base = hub
    _password_login(page, base)
    _add_passkey(page, base)
    _log_out(page)
    with app.app_context():
        update_user(find_user("ann"), active=False)
    page.goto(f"{base}/login")
    page.click("button:has-text('Sign in with a passkey')")
    error = page.wait_for_selector("#passkey-error:has-text('did not work')")
    assert error.inner_text() == "That code or passkey did not work. Try again."


def test_passkey_enrolment_when_a_factor_is_required(hub_config, clock, browser) -> None:  # type: ignore[no-untyped-def]
    with live_hub(hub_config, clock, MFA_REQUIRED="everyone") as (app, base):
        context = browser.new_context()
        try:
            page = context.new_page()
            page.set_default_timeout(10_000)
            cdp = context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True,
            }})
            _password_login(page, base)
            page.wait_for_url(f"{base}/login/setup")
            page.click("button:has-text('Create a passkey')")
            page.wait_for_url(f"{base}/")
            assert page.locator("text=Hello, Ann Example").count() == 1
            assert "passkey_added" in _events(app)
        finally:
            context.close()


def test_a_recorded_passkey_sign_in_cannot_be_replayed(hub, page) -> None:  # type: ignore[no-untyped-def]
    """The challenge lives in the browser's signed cookie; replaying that cookie with the
    recorded answer must not sign in again (the hub claims each challenge once)."""
    import httpx

    app, base = hub
    _password_login(page, base)
    _add_passkey(page, base)
    _log_out(page)
    recorded: dict[str, Any] = {}

    def record(route, request) -> None:  # type: ignore[no-untyped-def]
        recorded["headers"] = request.all_headers()
        recorded["body"] = request.post_data
        route.continue_()

    page.route(f"{base}/login/passkey", record)
    page.goto(f"{base}/login")
    page.click("button:has-text('Sign in with a passkey')")
    page.wait_for_url(f"{base}/")
    headers = {k: v for k, v in recorded["headers"].items() if k in {"cookie", "x-csrftoken", "content-type"}}
    replay = httpx.post(f"{base}/login/passkey", headers=headers, content=recorded["body"])
    assert replay.status_code == 401 and "set-cookie" not in {k.lower() for k in replay.headers if "_user_id" in k}
    assert replay.json() == {"error": "That code or passkey did not work. Try again."}
