"""Field errors next to their fields on the hub's forms, use-case errors included (sso.base.forms)."""

from __future__ import annotations

import re

import pytest

from sso.accounts.service import find_user
from sso.base.errors import ValidationError
from sso.base.forms import form_error


def _field_errors(page: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="field-error" id="([\w-]+)-error">([^<]*)</p>', page))


def _banner(page: str) -> str | None:
    match = re.search(r'<p class="flash error" role="alert">([^<]*)</p>', page)
    return match.group(1) if match else None


APP_FORM = {
    "slug": "invoices", "name": "Invoices", "login_url_template": "https://invoices.example/login/multipass/{token}",
    "allowed_origins": "https://invoices.example", "token_lifetime": "600", "enabled": "y", "logout_url": "",
    "secret": "",
}


def test_user_form_duplicate_login_is_shown_at_the_login_field(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    response = client.post("/admin/users/new", data={"login": "ANN", "email": "other@example.com", "active": "y"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert _field_errors(page) == {"login": "A user with this login already exists."}
    assert _banner(page) is None


def test_user_form_several_errors_at_once(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    page = client.post("/admin/users/new", data={"login": "", "email": ""}).get_data(as_text=True)
    assert _field_errors(page) == {"login": "Enter a login.", "email": "Enter an e-mail address."}


def test_user_form_bad_email_from_the_use_case(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    page = client.post("/admin/users/new", data={"login": "zoe", "email": "not-an-address"}).get_data(as_text=True)
    assert "is not a valid e-mail address" in _field_errors(page)["email"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [({"slug": "Bad Slug"}, "slug", "lower-case letters"),
     ({"login_url_template": "https://invoices.example/login"}, "login_url_template", "{token} exactly once"),
     ({"allowed_origins": "not an origin"}, "allowed_origins", "not an origin"),
     ({"logout_url": "https://elsewhere.example/out"}, "logout_url", "allowed origins")],
)
def test_app_form_use_case_errors_at_their_fields(client, auth, change: dict, field: str, words: str) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    response = client.post("/admin/apps/new", data={**APP_FORM, **change})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    errors = _field_errors(page)
    assert list(errors) == [field] and words in errors[field], errors
    assert f'id="{field}"' in page and f'aria-describedby="{field}-error"' in page


def test_app_edit_form_error_at_its_field(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    page = client.post("/admin/apps/invoices", data={**APP_FORM, "token_lifetime": "5"}).get_data(as_text=True)
    assert "token_lifetime" in _field_errors(page)


def test_set_password_errors_at_their_fields(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import make_set_password_token

    with app.app_context():
        token = make_set_password_token(find_user("ann"))
    page = client.post(f"/set-password/{token}", data={"password": "short", "confirm": "other"}).get_data(as_text=True)
    errors = _field_errors(page)
    assert errors["password"] == "Use 10 to 1024 characters." and errors["confirm"] == "The passwords differ."


def test_directory_form_error_at_its_field(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    response = client.post("/admin/pairing/invoices/directory", data={"kind": "scim", "url": "ftp://x", "token": "t"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "http:// or https:// URL" in _field_errors(page)["url"]
    assert _banner(page) == "Directory not saved: check the fields marked below."


def test_form_error_without_a_field_goes_to_the_banner(app) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.forms import UserForm

    with app.test_request_context():
        form = UserForm(meta={"csrf": False})
        assert form_error(form, ValidationError("Something else.")) == "Something else."
        assert form_error(form, ValidationError("Not on this form.", field="nope")) == "Not on this form."
        assert form_error(form, ValidationError("Taken.", field="login")) is None
        assert form.login.errors == ["Taken."]
