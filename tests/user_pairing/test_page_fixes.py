"""The pairing page as an admin uses it: snapshots in the background, every status fixable
with a confirmation, bulk fixes, rows that change at once, exports that follow the filter.

The app side is a conformant SCIM server with PATCH (scim2-server) on a loopback port.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from sso.base.db import db
from user_pairing import service
from user_pairing.models import PairingReport, PairingSnapshot

from .conftest import SCIM_SERVER_TOKEN as TOKEN
from .helpers import counts, row_statuses

HEADERS = {"Authorization": f"Bearer {TOKEN}"}
FIX_LINK = re.compile(r'data-action="([a-z_]+)" href="([^"]+)"')


def add_remote(url: str, login: str, email: str) -> str:
    answer = httpx.post(f"{url}/Users", headers=HEADERS, json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": login,
        "emails": [{"value": email, "primary": True}],
    })
    answer.raise_for_status()
    return str(answer.json()["id"])


def remote_email(url: str, remote_id: str) -> str:
    answer = httpx.get(f"{url}/Users/{remote_id}", headers=HEADERS)
    answer.raise_for_status()
    return str(answer.json()["emails"][0]["value"])


@pytest.fixture()
def scim_app(demo_hub, admin_client, scim_server):  # type: ignore[no-untyped-def]
    """The demo hub against a SCIM app holding: bob and erin with other e-mails, caroline
    (carol's e-mail), ann and admin as in the hub, frank only there; dave missing there.
    The directory is saved through the page, which takes the snapshot in the background."""
    url, _ = scim_server
    ids = {
        "bob": add_remote(url, "bob", "bob@old-mail.example"),
        "erin": add_remote(url, "erin", "erin@old-mail.example"),
        "caroline": add_remote(url, "caroline", "carol@example.com"),
        "ann": add_remote(url, "ann", "ann@example.com"),
        "admin": add_remote(url, "admin", "admin@example.com"),
        "frank": add_remote(url, "frank", "frank@example.com"),
    }
    saved = admin_client.post("/admin/pairing/invoices/directory",
                              data={"kind": "scim", "url": url, "token": TOKEN}, follow_redirects=True)
    assert "Reading Invoices" in saved.get_data(as_text=True)
    with demo_hub.app_context():
        service.wait_for_refresh(_app())
    return url, ids


def _app():  # type: ignore[no-untyped-def]
    from sso.connected_apps.service import get_app

    return get_app("invoices")


def _events(app) -> list[tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    from sso.audit.models import AuditEvent

    with app.app_context():
        return [(e.event, e.detail or {}) for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


def test_saving_a_directory_takes_the_snapshot_in_the_background(scim_app, admin_client) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get("/admin/pairing/invoices").get_data(as_text=True)
    assert counts(page) == {
        "all": 7, "conflict": 0, "email_mismatch": 2, "login_mismatch": 1,
        "missing_in_app": 1, "missing_in_hub": 1, "paired": 2,
    }
    assert "Reading Invoices" not in page  # finished


def test_progress_is_shown_while_a_refresh_runs(scim_app, demo_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    with demo_hub.app_context():
        from sso.base import context

        snapshot = service.get_snapshot(_app())
        assert snapshot is not None
        snapshot.refresh_started_at = context.now()
        snapshot.refresh_done, snapshot.refresh_total = 4000, 100000
        db.session.commit()
    page = admin_client.get("/admin/pairing/invoices").get_data(as_text=True)
    assert "Reading Invoices's users… 4,000 of 100,000" in page
    assert '<meta http-equiv="refresh" content="2">' in page
    body = admin_client.get("/admin/pairing/invoices/progress.json").get_json()
    assert body["running"] is True and body["done"] == 4000 and body["total"] == 100000


def test_refresh_reports_progress_per_page(scim_app, demo_hub) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[int, int | None]] = []
    with demo_hub.app_context():
        service.refresh(_app(), progress=lambda done, total: seen.append((done, total)))
    assert seen == [(6, 6)]


def test_an_old_snapshot_is_refreshed_when_the_page_is_opened(scim_app, demo_hub, admin_client, clock) -> None:  # type: ignore[no-untyped-def]
    demo_hub.config["PAIRING_SNAPSHOT_MAX_AGE"] = 600  # shorter than the admin's session idle timeout
    with demo_hub.app_context():
        before = service.get_snapshot(_app()).version  # type: ignore[union-attr]
    admin_client.get("/admin/pairing/invoices")
    with demo_hub.app_context():
        service.wait_for_refresh(_app())
        assert service.get_snapshot(_app()).version == before  # type: ignore[union-attr]  # still fresh
    clock.advance(601)
    admin_client.get("/admin/pairing/invoices")
    with demo_hub.app_context():
        service.wait_for_refresh(_app())
        db.session.expire_all()
        assert service.get_snapshot(_app()).version == before + 1  # type: ignore[union-attr]


def test_change_the_email_in_the_app_with_a_confirmation(scim_app, demo_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    url, ids = scim_app
    page = admin_client.get("/admin/pairing/invoices?status=email_mismatch&q=bob").get_data(as_text=True)
    links = dict(FIX_LINK.findall(page))
    assert set(links) == {"app_email", "hub_email"}
    confirm = admin_client.get(links["app_email"].replace("&amp;", "&")).get_data(as_text=True)
    assert "In Invoices: e-mail of bob: bob@old-mail.example → bob@example.com" in confirm
    keys = re.findall(r'name="key" value="([^"]+)"', confirm)
    done = admin_client.post("/admin/pairing/invoices/fix", data={"action": "app_email", "key": keys},
                             follow_redirects=True).get_data(as_text=True)
    assert "Done: In Invoices: e-mail of bob" in done
    assert remote_email(url, ids["bob"]) == "bob@example.com"
    # The row changed at once: bob is paired, no refresh needed.
    assert counts(done)["email_mismatch"] == 1
    assert row_statuses(admin_client.get("/admin/pairing/invoices?q=bob").get_data(as_text=True)) == ["paired"]
    assert ("pairing_changed_in_app", {"field": "email", "login": "bob", "from": "bob@old-mail.example",
                                       "to": "bob@example.com", "app_ref": ids["bob"]}) in _events(demo_hub)


def test_change_the_login_in_the_hub(scim_app, demo_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get("/admin/pairing/invoices?status=login_mismatch").get_data(as_text=True)
    links = dict(FIX_LINK.findall(page))
    confirm = admin_client.get(links["hub_login"].replace("&amp;", "&")).get_data(as_text=True)
    assert "In the hub: login carol → caroline (e-mail carol@example.com)" in confirm
    keys = re.findall(r'name="key" value="([^"]+)"', confirm)
    done = admin_client.post("/admin/pairing/invoices/fix", data={"action": "hub_login", "key": keys},
                             follow_redirects=True).get_data(as_text=True)
    assert counts(done)["login_mismatch"] == 0
    with demo_hub.app_context():
        from sso.accounts.service import find_user

        assert find_user("caroline") is not None and find_user("carol") is None
    events = [name for name, _ in _events(demo_hub)]
    assert "user_changed" in events and "pairing_changed_in_hub" in events


def test_bulk_fix_of_the_filtered_selection(scim_app, demo_hub, admin_client) -> None:  # type: ignore[no-untyped-def]
    url, ids = scim_app
    page = admin_client.get("/admin/pairing/invoices?status=email_mismatch").get_data(as_text=True)
    assert "/admin/pairing/invoices/bulk?action=app_email&amp;status=email_mismatch" in page
    confirm = admin_client.get("/admin/pairing/invoices/bulk?action=app_email&status=email_mismatch").get_data(
        as_text=True)
    changes = re.findall(r'<li class="change">([^<]+)</li>', confirm)
    assert changes == [
        "In Invoices: e-mail of bob: bob@old-mail.example → bob@example.com",
        "In Invoices: e-mail of erin: erin@old-mail.example → erin@example.com",
    ]
    keys = re.findall(r'name="key" value="([^"]+)"', confirm)
    done = admin_client.post("/admin/pairing/invoices/fix", data={"action": "app_email", "key": keys},
                             follow_redirects=True).get_data(as_text=True)
    assert counts(done)["email_mismatch"] == 0
    assert remote_email(url, ids["erin"]) == "erin@example.com"
    # A search narrows the bulk selection too.
    confirm = admin_client.get("/admin/pairing/invoices/bulk?action=create_in_hub&status=missing_in_hub&q=frank")
    assert re.findall(r'<li class="change">([^<]+)</li>', confirm.get_data(as_text=True)) == [
        "In the hub: create frank (frank@example.com) without a password (set-password link)"
    ]
    nothing = admin_client.get("/admin/pairing/invoices/bulk?action=create_in_hub&status=missing_in_hub&q=nobody",
                               follow_redirects=True)
    assert "No row of this selection" in nothing.get_data(as_text=True)


def test_no_fix_is_offered_or_taken_without_a_snapshot(demo_hub, admin_client, connected_app) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get("/admin/pairing/invoices").get_data(as_text=True)
    assert "Create in app" not in page and "Create in hub" not in page
    answer = admin_client.get("/admin/pairing/invoices/bulk?action=create_in_app&status=missing_in_app",
                              follow_redirects=True).get_data(as_text=True)
    assert "no snapshot" in answer


def test_a_stale_confirmation_is_refused(scim_app, admin_client) -> None:  # type: ignore[no-untyped-def]
    done = admin_client.post("/admin/pairing/invoices/fix", data={"action": "app_email", "key": ["nope:nope"]},
                             follow_redirects=True).get_data(as_text=True)
    assert "changed since the page was shown" in done


def test_conflict_candidates_side_by_side(demo_hub, admin_client, scim_server) -> None:  # type: ignore[no-untyped-def]
    url, _ = scim_server
    add_remote(url, "bob", "dave@example.com")  # bob's login, dave's e-mail: bob and dave conflict
    admin_client.post("/admin/pairing/invoices/directory", data={"kind": "scim", "url": url, "token": TOKEN})
    with demo_hub.app_context():
        service.wait_for_refresh(_app())
    page = admin_client.get("/admin/pairing/invoices?status=conflict").get_data(as_text=True)
    assert "/admin/pairing/invoices/conflict/1" in page
    side = admin_client.get("/admin/pairing/invoices/conflict/1").get_data(as_text=True)
    assert side.count('class="candidate"') >= 2
    assert "/admin/users/" in side and "/admin/pairing/invoices?q=bob" in side


def test_exports_follow_the_filter_and_the_search(scim_app, admin_client) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get("/admin/pairing/invoices?status=email_mismatch&q=erin").get_data(as_text=True)
    assert "/admin/pairing/invoices.csv?status=email_mismatch&amp;q=erin" in page
    rows = admin_client.get("/admin/pairing/invoices.json?status=email_mismatch&q=erin").get_json()
    assert [r["hub_login"] for r in rows] == ["erin"]
    csv_text = admin_client.get("/admin/pairing/invoices.csv?q=frank").get_data(as_text=True)
    assert csv_text.count("\r\n") == 2 and "frank" in csv_text


def test_apps_list_shows_pairing_counts(scim_app, admin_client) -> None:  # type: ignore[no-untyped-def]
    admin_client.get("/admin/pairing/invoices")
    page = admin_client.get("/admin/apps/").get_data(as_text=True)
    assert "2 email mismatch" in page and "1 login mismatch" in page and "1 missing in hub" in page


def test_the_report_is_stored_once_per_snapshot_version(scim_app, demo_hub) -> None:  # type: ignore[no-untyped-def]
    with demo_hub.app_context():
        rows = service.report(_app())
        stored = db.session.scalars(sa.select(PairingReport)).one()
        assert service.unpack_rows(stored.rows) == rows
        version = db.session.scalars(sa.select(PairingSnapshot.version)).one()
        key = stored.key
        assert f".{version}|" in key
        # Two refreshes within one clock tick: the version still moves, the stored key too.
        service.refresh(_app())
        service.report(_app())
        db.session.expire_all()
        assert db.session.scalars(sa.select(PairingSnapshot.version)).one() == version + 1
        assert db.session.scalars(sa.select(PairingReport.key)).one() != key


def test_the_app_page_links_to_its_pairing_page(scim_app, admin_client) -> None:  # type: ignore[no-untyped-def]
    admin_client.get("/admin/pairing/invoices")
    page = admin_client.get("/admin/apps/invoices").get_data(as_text=True)
    assert 'href="/admin/pairing/invoices"' in page and "2 email mismatch" in page
