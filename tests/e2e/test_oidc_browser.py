"""The helpdesk (an OpenID Connect app using authlib's Flask client) with the hub, in Chromium.

Log in at the hub, click the app's button, arrive signed in; RP-initiated logout; hub
logout reaching the app through back-channel logout; the consent page of a third-party app.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from examples.stack import REPO, Stack
from tests.e2e.test_browser_flows import hub_login

pytestmark = pytest.mark.browser


def helpdesk_signed_in(page, stack: Stack, login: str = "ann") -> None:  # type: ignore[no-untyped-def]
    hub_login(page, stack, login)
    page.click("a.app-button:has-text('Helpdesk')")
    page.wait_for_url(re.compile(re.escape(stack.helpdesk_url) + r"/$"))
    assert page.locator("#current-user").inner_text() == login
    assert "code=" not in page.url


def test_helpdesk_button_signs_in_without_second_login(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    helpdesk_signed_in(page, stack)
    assert page.locator("h1").inner_text() == "Tickets"
    page.click("#crm-button")  # back to the hub, still logged in there
    page.wait_for_url(re.compile(re.escape(stack.hub_url)))
    assert page.locator("a.app-button:has-text('Helpdesk')").count() == 1


def test_rp_initiated_logout_ends_both_sessions(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    helpdesk_signed_in(page, stack)
    page.click("#logout-button")
    page.wait_for_url(re.compile(re.escape(stack.helpdesk_url) + r"/signed-out"))
    assert "You are logged out" in page.locator("h1").inner_text()
    page.goto(f"{stack.hub_url}/")
    assert "/login" in page.url  # the hub session ended too


def test_hub_logout_reaches_the_helpdesk_by_back_channel(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    helpdesk_signed_in(page, stack)
    page.goto(f"{stack.hub_url}/")
    page.click("form[action$='/logout'] button")
    page.wait_for_load_state()
    page.goto(f"{stack.helpdesk_url}/")
    assert page.locator("#current-user").count() == 0
    assert page.locator("#sign-in-hub").count() == 1


def test_consent_page_for_a_third_party_app(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    env = stack.hub_env()
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "apps", "add", "outside", "--name", "Outside Board",
         "--protocol", "oidc", "--redirect-uri", f"{stack.helpdesk_url}/callback", "--third-party", "--public"],
        cwd=REPO, env=env, check=False, capture_output=True, timeout=120,
    )
    hub_login(page, stack, "bob")
    page.wait_for_url(re.compile(re.escape(stack.hub_url) + "/$"))
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    page.goto(f"{stack.hub_url}/oidc/authorize?response_type=code&client_id=outside&scope=openid%20email"
              f"&redirect_uri={stack.helpdesk_url}/callback&state=s1&code_challenge={challenge}"
              "&code_challenge_method=S256")
    assert "Allow Outside Board to sign you in?" in page.locator("h1").inner_text()
    assert "e-mail" in page.content()
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(REPO / "test-artifacts" / f"oidc-consent-{width}.png"), full_page=True)
    with page.expect_request(re.compile(re.escape(stack.helpdesk_url) + r"/callback\?code=")) as request:
        page.click("button[value=allow]")
    assert "state=s1" in request.value.url and "iss=" in request.value.url


def test_oidc_pages_fit_wide_and_narrow_screens(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    hub_login(page, stack, "admin")
    page.wait_for_url(re.compile(re.escape(stack.hub_url) + "/$"))
    for path, name in (("/admin/oidc/helpdesk", "admin-edit"), ("/admin/oidc/new", "admin-new"),
                       ("/account/apps", "my-apps"), ("/oidc/logout", "logout-confirm")):
        page.goto(stack.hub_url + path)
        assert page.locator("h1").count() == 1
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 800})
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (path, width)
            page.screenshot(path=str(REPO / "test-artifacts" / f"oidc-{name}-{width}.png"), full_page=True)
