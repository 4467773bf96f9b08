"""The user's journeys across the hub and the invoicing app, in a real Chromium.

Both apps run as gunicorn processes on their own SQLite databases (see conftest.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import pytest

from examples.stack import Stack
from sso.multipass import MultipassCodec

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.browser


def hub_login(page, stack: Stack, login: str = "ann", password: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Fill the hub's login form on the current page (navigating there first if needed)."""
    if "/login" not in page.url:
        page.goto(f"{stack.hub_url}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password or stack.password)
    page.click("form button[type=submit]:has-text('Log in')")


def token_url_for(page, stack: Stack, return_to: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """Ask the hub for a jump with the browser's cookies, without following it."""
    url = f"{stack.hub_url}/sso/jump/invoices"
    if return_to:
        url += "?return_to=" + quote(return_to, safe="")
    response = page.request.get(url, max_redirects=0)
    assert response.status == 302, response.status
    location = response.headers["location"]
    assert location.startswith(f"{stack.app_url}/login/multipass/")
    return location


def app_cookie(page, stack: Stack) -> str | None:  # type: ignore[no-untyped-def]
    for cookie in page.context.cookies(stack.app_url):
        if cookie["name"] == "invoicing_session":
            return cookie["value"]
    return None


def test_jump_to_invoices_without_second_login(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    hub_login(page, stack, "ann")
    page.click("a.app-button:has-text('Invoices')")
    page.wait_for_url(re.compile(re.escape(stack.app_url) + r"/.*"))
    assert page.locator("#current-user").inner_text() == "ann"
    assert "/login" not in page.url and "multipass" not in page.url  # the token left the address bar


def test_crm_button_goes_back_to_the_hub_still_logged_in(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    hub_login(page, stack, "ann")
    page.click("a.app-button:has-text('Invoices')")
    page.wait_for_url(re.compile(re.escape(stack.app_url)))
    page.click("#crm-button")
    page.wait_for_url(re.compile(re.escape(stack.hub_url)))
    assert "Ann Archer" in page.locator("header").inner_text()
    assert page.locator("input[name=password]").count() == 0


def test_fresh_browser_is_diverted_to_the_hub_and_lands_on_the_page_asked_for(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{stack.app_url}/invoices/new")
    page.wait_for_url(re.compile(re.escape(stack.hub_url) + r"/login"))
    hub_login(page, stack, "ann")
    page.wait_for_url(f"{stack.app_url}/invoices/new")
    assert page.locator("#current-user").inner_text() == "ann"


def test_token_url_opened_twice_is_refused(page, stack: Stack, browser) -> None:  # type: ignore[no-untyped-def]
    hub_login(page, stack, "ann")
    token_url = token_url_for(page, stack)
    page.goto(token_url)
    assert page.locator("#current-user").inner_text() == "ann"
    other = browser.new_context()
    try:
        replay = other.new_page()
        response = replay.goto(token_url)
        assert response is not None and response.status == 400
        assert "already used" in replay.locator("#message").inner_text()
        assert replay.locator("#current-user").count() == 0
    finally:
        other.close()


@pytest.mark.parametrize("kind", ["tampered", "expired", "other_secret"])
def test_bad_tokens_are_refused_without_a_session(page, stack: Stack, browser, kind: str) -> None:  # type: ignore[no-untyped-def]
    hub_login(page, stack, "ann")
    if kind in ("other_secret", "expired"):
        # Made here: with another secret, or with the app's secret an hour ago (the
        # hub's tokens live 15 minutes; nothing waits for one to age).
        made = datetime.now(UTC) - timedelta(hours=1)
        claims = {"email": "ann@example.com", "login": "ann", "jti": "x" + kind, "aud": "invoices"}
        if kind == "expired":
            claims["exp"] = int(made.timestamp()) + 900
        secret = stack.secret if kind == "expired" else "another app's secret, not ours"
        token = MultipassCodec(secret).encode(claims, now=made if kind == "expired" else None)
        token_url = f"{stack.app_url}/login/multipass/{token}"
    else:
        token_url = token_url_for(page, stack)
        prefix, token = token_url.rsplit("/", 1)
        middle = len(token) // 2
        flipped = "A" if token[middle] != "A" else "B"
        token_url = f"{prefix}/{token[:middle]}{flipped}{token[middle + 1:]}"
    visitor = browser.new_context()
    try:
        tab = visitor.new_page()
        response = tab.goto(token_url)
        assert response is not None and response.status == 400
        assert "invalid, expired or was already used" in tab.locator("#message").inner_text()
        assert tab.locator("#current-user").count() == 0
        follow = tab.goto(f"{stack.app_url}/invoices")
        assert follow is not None
        assert urlsplit(tab.url).netloc == urlsplit(stack.hub_url).netloc  # still not signed in
    finally:
        visitor.close()


@pytest.mark.parametrize(
    "hostile",
    ["http://evil.example/steal", "//evil.example/x", "/\\evil.example", "https:\\\\evil.example", "http://127.0.0.2:9/x"],
)
def test_no_token_leaves_for_another_host(page, stack: Stack, hostile: str) -> None:  # type: ignore[no-untyped-def]
    sent: list[str] = []
    page.on("request", lambda req: sent.append(req.url))
    hub_login(page, stack, "ann")
    page.wait_for_url(re.compile(re.escape(stack.hub_url)))
    # Service-initiated flow with a login_url elsewhere: a 400 page at the hub, no token issued.
    response = page.goto(
        f"{stack.hub_url}/sso/multipass/invoices?login_url={quote(hostile, safe='')}&return_to=/"
    )
    assert response is not None and response.status == 400
    assert urlsplit(page.url).netloc == urlsplit(stack.hub_url).netloc
    # Jump with a hostile return_to: the token goes to the app, the return_to is dropped.
    page.goto(f"{stack.hub_url}/sso/jump/invoices?return_to={quote(hostile, safe='')}")
    page.wait_for_url(re.compile(re.escape(stack.app_url)))
    assert page.locator("#current-user").inner_text() == "ann"
    allowed = {urlsplit(stack.hub_url).netloc, urlsplit(stack.app_url).netloc}
    for url in sent:
        if "multipass" in url:
            assert urlsplit(url).netloc in allowed, url


def test_logout_at_the_hub_ends_the_invoicing_session_too(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    hub_login(page, stack, "ann")
    page.click("a.app-button:has-text('Invoices')")
    page.wait_for_url(re.compile(re.escape(stack.app_url)))
    page.click("#crm-button")
    page.wait_for_url(re.compile(re.escape(stack.hub_url)))
    with page.expect_response(lambda r: r.url.startswith(f"{stack.app_url}/logout/frontchannel")) as done:
        page.click("header button:has-text('Log out')")
    assert done.value.status == 200
    # The documented behaviour: the hub session is gone and the app's session too, so the
    # invoicing page sends the visitor to the hub's login form again.
    page.goto(f"{stack.app_url}/invoices")
    page.wait_for_url(re.compile(re.escape(stack.hub_url) + r"/login"))
    assert page.locator("input[name=password]").count() == 1


def test_unpaired_user_sees_what_differs(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    hub_login(page, stack, "bob")
    with page.expect_response(lambda r: "/login/multipass/" in r.url) as landing:
        page.click("a.app-button:has-text('Invoices')")
    assert landing.value.status == 403
    assert page.locator("#message").inner_text() == "Your account in Invoices does not match your hub account."
    assert "bob@old-mail.example" not in page.locator("main").inner_text()  # folded: for the administrator
    page.click("details.admin-detail summary")
    detail = page.locator("#admin-detail").inner_text()
    assert "bob@old-mail.example" in detail and "bob@example.com" in detail
    assert page.locator("#current-user").count() == 0
    page.click("#back-to-hub")  # the way out leads to the hub's start page, not into the same refusal
    page.wait_for_url(stack.hub_url + "/")
    assert "Hello" in page.locator("h1").inner_text()


def test_admin_sees_who_is_paired_and_creates_the_missing_account_in_the_app(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    hub_login(page, stack, "admin")
    page.wait_for_url(re.compile(re.escape(stack.hub_url)))
    page.goto(f"{stack.hub_url}/admin/pairing/invoices")
    page.click("button:has-text('Refresh snapshot')")
    page.wait_for_selector("span.count[data-status=paired]")

    def count(status: str) -> int:
        return int(page.locator(f"span.count[data-status={status}]").inner_text())

    # Demo data: admin, ann, erin (case only) paired; bob e-mail, carol login mismatches;
    # dave only at the hub; frank only in the app.
    assert count("email_mismatch") == 1 and count("login_mismatch") == 1
    assert count("missing_in_hub") == 1
    missing_before = count("missing_in_app")
    assert missing_before >= 1
    dave = page.locator("tr.row", has_text="dave@example.com")
    assert dave.get_attribute("data-status") == "missing_in_app"
    dave.locator("button:has-text('Create in app')").click()
    page.wait_for_load_state()
    page.click("button:has-text('Refresh snapshot')")
    page.wait_for_selector("span.count[data-status=paired]")
    assert page.locator("tr.row", has_text="dave@example.com").first.get_attribute("data-status") == "paired"
    assert count("missing_in_app") == missing_before - 1


def _no_horizontal_overflow(page) -> None:  # type: ignore[no-untyped-def]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (page.url, width)


def _admin_on_pairing(page, stack: Stack, width: int) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": width, "height": 900})
    hub_login(page, stack, "admin")
    page.wait_for_url(re.compile(re.escape(stack.hub_url)))
    page.goto(f"{stack.hub_url}/admin/pairing/invoices")
    page.click("button:has-text('Refresh snapshot')")
    page.wait_for_selector("span.count[data-status=paired]")


@pytest.mark.parametrize("width", [1280, 390])
def test_pairing_pages_fit_desktop_and_phone(page, stack: Stack, width: int) -> None:  # type: ignore[no-untyped-def]
    """The pairing table, a fix's confirmation, a bulk confirmation and the apps list fit the screen."""
    _admin_on_pairing(page, stack, width)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _no_horizontal_overflow(page)
    page.screenshot(path=str(SCREENSHOTS / f"pairing-{width}.png"), full_page=True)
    page.goto(f"{stack.hub_url}/admin/pairing/invoices?status=login_mismatch")
    page.locator("tr.row", has_text="carol").locator("a.fix-link[data-action=hub_login]").click()
    page.wait_for_selector("li.change")
    assert "In the hub: login carol → caroline" in page.inner_text("li.change")
    _no_horizontal_overflow(page)
    page.screenshot(path=str(SCREENSHOTS / f"pairing-confirm-{width}.png"), full_page=True)
    page.goto(f"{stack.hub_url}/admin/pairing/invoices?status=missing_in_hub")
    page.click("a.bulk-fix")
    page.wait_for_selector("li.change")
    _no_horizontal_overflow(page)
    page.goto(f"{stack.hub_url}/admin/apps/")
    _no_horizontal_overflow(page)
    page.screenshot(path=str(SCREENSHOTS / f"apps-{width}.png"), full_page=True)


def test_admin_fixes_an_email_mismatch_with_a_confirmation(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    """Change in the hub: the confirmation names the exact change; the row changes at once."""
    _admin_on_pairing(page, stack, 1280)
    page.goto(f"{stack.hub_url}/admin/pairing/invoices?status=email_mismatch")
    bob = page.locator("tr.row", has_text="bob@old-mail.example")
    bob.locator("a.fix-link[data-action=hub_email]").click()
    page.wait_for_selector("li.change")
    assert "In the hub: e-mail of bob: bob@example.com → bob@old-mail.example" in page.inner_text("li.change")
    page.click("button:has-text('Make this change')")
    page.wait_for_selector("span.count[data-status=email_mismatch]")
    assert page.locator("span.count[data-status=email_mismatch]").inner_text() == "0"
    page.goto(f"{stack.hub_url}/admin/apps/")
    assert "email mismatch" not in page.inner_text("main") and "paired" in page.inner_text("main")
