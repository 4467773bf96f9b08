"""Admin pages for connected apps: add, secret shown once then masked, rotate, retire."""

from __future__ import annotations

import re

from sso.audit.models import AuditEvent
from sso.base.db import db

FORM = {
    "slug": "invoices",
    "name": "Invoices",
    "login_url_template": "https://invoices.example/login/multipass/{token}",
    "allowed_origins": "https://invoices.example",
    "token_lifetime": "600",
    "enabled": "y",
    "logout_url": "https://invoices.example/logout",
    "secret": "",
}


def _secret_on(page: bytes) -> str:
    match = re.search(rb'id="secret" type="text" readonly value="([^"]+)"', page)
    assert match, page
    return match.group(1).decode()


def test_only_admins(client, auth) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/admin/apps/").status_code == 302
    auth.login()
    assert client.get("/admin/apps/").status_code == 403
    assert client.post("/admin/apps/new", data=FORM).status_code == 403


def test_add_shows_secret_once_then_masked(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    response = client.post("/admin/apps/new", data=FORM)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = _secret_on(response.data)
    assert len(secret) >= 43
    page = client.get("/admin/apps/invoices")
    assert page.status_code == 200
    assert secret.encode() not in page.data
    assert "••••".encode() in page.data
    assert secret.encode() not in client.get("/admin/apps/").data
    assert secret.encode() not in client.get("/admin/audit/").data
    with app.app_context():
        events = [e.event for e in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))]
        assert {"app_created", "secret_set", "secret_revealed"} <= set(events)
        for detail in db.session.scalars(db.select(AuditEvent.detail)):
            assert secret not in str(detail)


def test_rotate_and_retire(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    first = _secret_on(client.post("/admin/apps/new", data=FORM).data)
    rotated = client.post("/admin/apps/invoices/secret", data={"secret": ""})
    second = _secret_on(rotated.data)
    assert second != first
    page = client.get("/admin/apps/invoices").data.decode()
    assert page.count('class="secret-row current"') == 1
    assert page.count('class="secret-row previous"') == 1
    secret_id = re.search(r"/admin/apps/invoices/secrets/(\d+)/retire", page).group(1)
    assert client.post(f"/admin/apps/invoices/secrets/{secret_id}/retire").status_code == 302
    page = client.get("/admin/apps/invoices").data.decode()
    assert page.count('class="secret-row retired"') == 1
    with app.app_context():
        from sso.connected_apps.service import accepted_secrets, get_app

        assert accepted_secrets(get_app("invoices")) == [second]


def test_pasted_secret(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    response = client.post("/admin/apps/new", data={**FORM, "secret": "secret-issued-by-the-other-app"})
    assert _secret_on(response.data) == "secret-issued-by-the-other-app"
    short = client.post("/admin/apps/invoices/secret", data={"secret": "short"})
    assert short.status_code == 400 and b"at least" in short.data


def test_bad_input_is_a_400_page(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    for change in (
        {"login_url_template": "https://evil.example/{token}"},
        {"login_url_template": "no placeholder"},
        {"allowed_origins": "javascript:alert(1)"},
        {"slug": "Bad Slug!"},
        {"token_lifetime": "abc"},
        {"token_lifetime": "999999"},
        {"logout_url": "https://evil.example/"},
        {"name": ""},
    ):
        response = client.post("/admin/apps/new", data={**FORM, **change})
        assert response.status_code == 400, change
    assert client.get("/admin/apps/").data.count(b"invoices.example/login") == 0


def test_edit_disables_app_and_removes_menu_button(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    client.post("/admin/apps/new", data=FORM)
    assert b'data-app="invoices"' in client.get("/").data
    form = {k: v for k, v in FORM.items() if k not in {"enabled", "secret"}}
    assert client.post("/admin/apps/invoices", data=form).status_code == 302
    assert b'data-app="invoices"' not in client.get("/").data
    assert client.get("/admin/apps/nope").status_code == 404
