"""The login page: it names the app the user is going to, and shows errors next to the fields."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from sso.connected_apps.service import get_app, update_connected_app


def _login_page(client, next_: str) -> str:  # type: ignore[no-untyped-def]
    return client.get("/login?next=" + quote(next_, safe="")).get_data(as_text=True)


@pytest.mark.parametrize(
    "next_", ["/sso/jump/invoices", "/sso/jump/invoices?return_to=/x",
              "/sso/multipass/invoices?login_url=https://invoices.example/login&return_to=/"],
)
def test_arriving_from_an_app_names_it(client, connected_app, next_: str) -> None:  # type: ignore[no-untyped-def]
    page = _login_page(client, next_)
    assert 'Sign in to continue to <span class="app-name">Invoices</span>' in page
    assert "<title>Sign in to continue to Invoices · Multipass SSO</title>" in page


def test_the_jump_itself_leads_to_a_login_page_naming_the_app(client, connected_app) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/sso/jump/invoices", follow_redirects=True)
    assert "Sign in to continue to" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "next_", ["", "/", "/admin/users/", "/sso/jump/nosuchapp", "https://evil.example/sso/jump/invoices",
              "//evil.example/sso/jump/invoices", "/sso/jump/invoices/../../admin"],
)
def test_no_app_named_otherwise(client, connected_app, next_: str) -> None:  # type: ignore[no-untyped-def]
    page = _login_page(client, next_)
    assert "continue to" not in page and "Log in to Multipass SSO" in page


def test_disabled_app_is_not_named(app, client, connected_app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        update_connected_app(get_app("invoices"), enabled=False)
    assert "continue to" not in _login_page(client, "/sso/jump/invoices")


def test_failed_login_keeps_the_app_name(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    response = auth.login("ann", "wrong-password", next="/sso/jump/invoices")
    page = response.get_data(as_text=True)
    assert response.status_code == 401 and "Sign in to continue to" in page


def test_empty_fields_are_marked_each_under_itself(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/login", data={"login": "", "password": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<p class="field-error" id="login-error">Enter your login or e-mail address.</p>' in page
    assert '<p class="field-error" id="password-error">Enter your password.</p>' in page
    assert 'aria-describedby="login-error"' in page and 'aria-invalid="true"' in page
    assert 'class="flash error"' not in page  # no banner repeating it


def test_throttled_login_page_is_titled_too_many_attempts(hub_config, app, client, auth) -> None:  # type: ignore[no-untyped-def]
    app.config["LOGIN_LIMIT_LOGIN"] = "2 per minute"  # read when the first login is counted

    for _ in range(2):
        auth.login("ann", "wrong-password")
    response = auth.login("ann", "wrong-password")
    page = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "<title>Too many attempts · Multipass SSO</title>" in page and 'class="flash error"' in page
