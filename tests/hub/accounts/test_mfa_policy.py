"""The admin page that requires a second factor: stored in the database over the
``SSO_MFA_REQUIRED`` default, audited, CSRF-checked, and it says who will be asked to enrol."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.conftest import HUB_ADMIN_PASSWORD, HUB_USER_PASSWORD
from tests.hub.accounts.mfa_helpers import enrol_totp

TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def _audit(app):  # type: ignore[no-untyped-def]
    from sso.audit.models import AuditEvent
    from sso.base.db import db

    with app.app_context():
        return [(e.event, e.actor, e.detail) for e in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.event == "mfa_policy_changed").order_by(AuditEvent.id))]


def test_only_admins_see_or_change_it(client, auth) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/admin/users/second-factor").headers["Location"].startswith("/login")
    auth.login()
    assert client.get("/admin/users/second-factor").status_code == 403
    assert client.post("/admin/users/second-factor", data={"required": "none"}).status_code == 403


def test_the_users_page_links_to_it_and_it_starts_from_the_setting(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    assert 'href="/admin/users/second-factor"' in client.get("/admin/users/").get_data(as_text=True)
    page = client.get("/admin/users/second-factor").get_data(as_text=True)
    assert '<strong id="policy-now">nobody</strong>' in page and "SSO_MFA_REQUIRED=none" in page
    assert re.search(r'<input checked[^>]*value="none"', page)


def test_requiring_it_of_admins_is_stored_audited_and_says_who_is_asked(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.factors import factor_required
    from sso.accounts.service import find_user

    auth.login_admin()
    done = client.post("/admin/users/second-factor", data={"required": "admins"}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert done.status_code == 200
    assert ("A second factor is now required of administrators. At their next sign-in, 1 user without one "
            "will be asked to set one up: admin.") in text
    assert '<strong id="policy-now">administrators</strong>' in text and "Set by admin on" in text
    assert _audit(app) == [("mfa_policy_changed", "admin", {"from": "none", "to": "admins"})]
    with app.app_context():
        assert factor_required(find_user("admin")) and not factor_required(find_user("ann"))  # type: ignore[arg-type]


def test_the_stored_choice_overrides_the_setting_at_the_next_login(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.mfa_policy import set_policy

    auth.login_admin()
    client.post("/admin/users/second-factor", data={"required": "everyone"})
    auth.logout()
    assert auth.login("ann", HUB_USER_PASSWORD).headers["Location"] == "/login/verify"
    assert client.get("/login/verify").headers["Location"] == "/login/setup"  # walked through enrolment
    with app.app_context():
        set_policy("none", actor="admin")  # optional again: the password alone signs in
    other = app.test_client()
    assert other.post("/login", data={"login": "ann", "password": HUB_USER_PASSWORD}).headers["Location"] == "/"


def test_who_already_has_a_factor_is_not_named(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    enrol_totp(client, clock)
    text = client.post("/admin/users/second-factor", data={"required": "admins"},
                       follow_redirects=True).get_data(as_text=True)
    assert "required of administrators; all of them already have one." in text
    assert 'id="waiting"' not in text


@pytest.mark.parametrize("value", ["", "root", "everyone "])
def test_a_bad_choice_is_a_400_at_the_field(app, client, auth, value) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    response = client.post("/admin/users/second-factor", data={"required": value})
    assert response.status_code == 400 and 'class="field-error" id="required-error"' in response.get_data(as_text=True)
    assert _audit(app) == []


@pytest.fixture
def csrf_on(hub_config):  # type: ignore[no-untyped-def]
    hub_config["WTF_CSRF_ENABLED"] = True
    return hub_config


def test_the_form_needs_its_csrf_token(csrf_on, app, client) -> None:  # type: ignore[no-untyped-def]
    login = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"login": "admin", "password": HUB_ADMIN_PASSWORD,
                                "csrf_token": TOKEN.search(login).group(1)})  # type: ignore[union-attr]
    page = client.get("/admin/users/second-factor").get_data(as_text=True)
    refused = client.post("/admin/users/second-factor", data={"required": "everyone"})
    assert refused.status_code == 400 and "out of date" in refused.get_data(as_text=True)
    assert _audit(app) == []
    token = TOKEN.search(page).group(1)  # type: ignore[union-attr]
    assert client.post("/admin/users/second-factor", data={"required": "everyone", "csrf_token": token}).status_code == 302
    assert [e[2]["to"] for e in _audit(app)] == ["everyone"]
