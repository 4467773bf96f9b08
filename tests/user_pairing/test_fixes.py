"""Fixes against the REAL reference invoicing app's SCIM directory, served on loopback."""

from __future__ import annotations

import re

from sso.base.db import db
from tests.conftest import HUB_ADMIN_PASSWORD

from .conftest import INVOICING_SCIM_TOKEN
from .helpers import counts, row_statuses

KEY = re.compile(r'name="key" value="([0-9a-f]+)">\s*<button type="submit">(Create in (?:app|hub))</button>')
LINK = re.compile(r'class="secret set-password-link" type="text" readonly value="([^"]+)"')


def _rows_with_buttons(page: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, label in KEY.findall(page):
        found.setdefault(label, []).append(key)
    return found


def _configure_and_refresh(client, url: str) -> str:  # type: ignore[no-untyped-def]
    saved = client.post(
        "/admin/pairing/invoices/directory",
        data={"kind": "scim", "url": url, "token": INVOICING_SCIM_TOKEN}, follow_redirects=True,
    ).get_data(as_text=True)
    assert "Directory saved" in saved
    return client.post("/admin/pairing/invoices/refresh", follow_redirects=True).get_data(as_text=True)


def test_demo_data_of_the_invoicing_app(demo_hub, admin_client, invoicing_scim) -> None:  # type: ignore[no-untyped-def]
    page = _configure_and_refresh(admin_client, invoicing_scim)
    assert "Snapshot refreshed: 6 users in Invoices" in page
    assert counts(page) == {
        "all": 7, "conflict": 0, "email_mismatch": 1, "login_mismatch": 1,
        "missing_in_app": 1, "missing_in_hub": 1, "paired": 3,
    }
    assert '"ERIN@Example.com"' in page  # erin: case only, still paired, raw values shown


def test_create_in_app_then_refresh_shows_dave_paired(demo_hub, admin_client, invoicing_scim, clock) -> None:  # type: ignore[no-untyped-def]
    _configure_and_refresh(admin_client, invoicing_scim)
    page = admin_client.get("/admin/pairing/invoices?status=missing_in_app").get_data(as_text=True)
    assert "dave@example.com" in page
    (key,) = _rows_with_buttons(page)["Create in app"]
    result = admin_client.post("/admin/pairing/invoices/create-in-app", data={"key": key}, follow_redirects=True)
    text = result.get_data(as_text=True)
    assert result.status_code == 200
    assert "Created dave (dave@example.com) in Invoices (id " in text
    # The row changed at once, without a refresh: dave is paired.
    assert counts(text)["missing_in_app"] == 0 and counts(text)["paired"] == 4
    # The same button again (an old page): the row is gone, said so; no 500, no second POST.
    again = admin_client.post("/admin/pairing/invoices/create-in-app", data={"key": key}, follow_redirects=True)
    assert "Not created in Invoices" in again.get_data(as_text=True)
    assert "not listed as missing" in again.get_data(as_text=True)
    # A refresh within the same clock tick still gives a new snapshot version, and agrees.
    page = admin_client.post("/admin/pairing/invoices/refresh", follow_redirects=True).get_data(as_text=True)
    assert counts(page)["missing_in_app"] == 0 and counts(page)["paired"] == 4
    paired = admin_client.get("/admin/pairing/invoices?status=paired&q=dave").get_data(as_text=True)
    assert row_statuses(paired) == ["paired"] and paired.count(">dave@example.com") == 2  # hub and app side
    with demo_hub.app_context():
        from sso.audit.models import AuditEvent

        events = [e.event for e in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))]
    assert "pairing_created_in_app" in events


def test_create_in_hub_gives_a_working_set_password_link(demo_hub, client, auth, invoicing_scim) -> None:  # type: ignore[no-untyped-def]
    auth.login_admin()
    _configure_and_refresh(client, invoicing_scim)
    page = client.get("/admin/pairing/invoices?status=missing_in_hub").get_data(as_text=True)
    (key,) = _rows_with_buttons(page)["Create in hub"]
    response = client.post("/admin/pairing/invoices/create-in-hub", data={"key": key})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert "Created in the hub: frank" in text
    link = LINK.search(text).group(1)
    again = client.post("/admin/pairing/invoices/create-in-hub", data={"key": key}, follow_redirects=True)
    assert "not listed as missing" in again.get_data(as_text=True)
    page = client.get("/admin/pairing/invoices").get_data(as_text=True)
    assert counts(page)["missing_in_hub"] == 0 and counts(page)["paired"] == 4
    # Frank uses the link, then logs in with his new password.
    auth.logout()
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    done = client.post("/" + path, data={"password": "franks-new-password", "confirm": "franks-new-password"})
    assert done.status_code == 302
    assert auth.login("frank", "franks-new-password").status_code == 302
    assert client.get("/" + path).status_code == 400  # single use
    auth.logout()
    auth.login("admin", HUB_ADMIN_PASSWORD)
    audit = client.get("/admin/audit/").get_data(as_text=True)
    assert "pairing_created_in_hub" in audit
    assert "user_created" in client.get("/admin/audit/?event=user_created").get_data(as_text=True)


def test_fix_buttons_need_a_known_row(demo_hub, admin_client, invoicing_scim) -> None:  # type: ignore[no-untyped-def]
    _configure_and_refresh(admin_client, invoicing_scim)
    for action in ("create-in-app", "create-in-hub"):
        response = admin_client.post(f"/admin/pairing/invoices/{action}", data={"key": "0" * 32}, follow_redirects=True)
        assert response.status_code == 200 and "not listed as missing" in response.get_data(as_text=True)
        assert admin_client.post(f"/admin/pairing/invoices/{action}", data={}).status_code == 400


def test_no_create_in_app_without_provisioning(demo_hub, admin_client, base_url) -> None:  # type: ignore[no-untyped-def]
    from .directory_server import TOKEN

    admin_client.post("/admin/pairing/invoices/directory", data={"kind": "json", "url": f"{base_url}/json/users", "token": TOKEN})
    page = admin_client.post("/admin/pairing/invoices/refresh", follow_redirects=True).get_data(as_text=True)
    assert "Snapshot refreshed: 3 users" in page
    assert "Create in app" not in page and "Create in hub" in page
    from user_pairing import DirectoryUser
    from user_pairing.service import user_key

    with demo_hub.app_context():
        from sso.accounts.models import User

        dave = db.session.scalars(db.select(User).filter_by(login="dave")).one()
        key = user_key(DirectoryUser(dave.login, dave.email, dave.name, dave.active, str(dave.id)))
    text = admin_client.post("/admin/pairing/invoices/create-in-app", data={"key": key}, follow_redirects=True).get_data(as_text=True)
    assert "cannot create users" in text
