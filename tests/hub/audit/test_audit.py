"""Audit records and the audit page."""

from __future__ import annotations

import pytest

from sso.audit import record
from sso.audit.models import AuditEvent
from sso.base.db import db


def test_record_rejects_unknown_events(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), pytest.raises(ValueError):
        record("made_up")


def test_other_packages_can_register_events(app) -> None:  # type: ignore[no-untyped-def]
    from sso.audit import EVENTS, register_events

    register_events("pairing_test_fix")
    try:
        with app.app_context():
            assert record("pairing_test_fix", app="invoices", detail={"k": "v"}).event == "pairing_test_fix"
        with pytest.raises(ValueError):
            register_events("bad name!")
    finally:
        EVENTS.remove("pairing_test_fix")


def test_unknown_logins_are_not_stored(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login("my-secret-password-typed-here", "x")
    with app.app_context():
        row = db.session.scalars(db.select(AuditEvent)).one()
        assert row.event == "login_failed" and row.user_id is None
        assert "my-secret" not in str(row.detail)


def test_login_events_are_recorded(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login("ANN@example.com", "wrong-password")
    auth.login()
    auth.logout()
    with app.app_context():
        rows = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [r.event for r in rows] == ["login_failed", "login_ok", "logout"]
        assert rows[0].detail == {"login": "ann"}
        assert rows[1].actor == "ann" and rows[1].ip == "127.0.0.1"
        assert "wrong-password" not in str([r.detail for r in rows])


def test_page_newest_first_filter_and_paging(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    app.config["AUDIT_PER_PAGE"] = 3
    for _ in range(4):
        auth.login("ann", "bad-password")
    auth.login()
    auth.logout()
    auth.login_admin()
    page = client.get("/admin/audit/").data.decode()
    assert "Page 1 of 3 (7 in all)" in page
    first_row = page.split('class="audit-row"')[1]
    assert "login_ok" in first_row and "admin" in first_row  # newest first: the admin's login
    only_failed = client.get("/admin/audit/?event=login_failed").data.decode()
    assert only_failed.count('class="audit-row"') == 3 and "Page 1 of 2 (4 in all)" in only_failed
    by_user = client.get("/admin/audit/?user=ann").data.decode()
    assert "(6 in all)" in by_user and "admin@" not in by_user
    ann_rows = client.get("/admin/audit/?user=ANN&event=logout").data.decode()
    assert ann_rows.count('class="audit-row"') == 1
    assert client.get("/admin/audit/?event=<script>&page=x&user=%ff").status_code == 200
    assert client.get("/admin/audit/?user=%00").status_code == 400
