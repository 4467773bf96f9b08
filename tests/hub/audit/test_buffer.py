"""The buffered audit writer: jump entries leave the request path, nothing is lost."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import sso.accounts.models  # noqa: F401  (the users table, which audit rows refer to: their DDL needs it)
from sso.audit import flush, record
from sso.audit.buffer import AuditBuffer, parse_buffered
from sso.audit.models import AuditEvent
from sso.audit.service import audit_buffer, close_buffer
from sso.base.context import hub_state
from sso.base.db import db, transaction
from sso.base.errors import ConfigError
from sso.config import load_config

BOTH = pytest.mark.parametrize(
    "db_backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _rows(app, event: str | None = None) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with app.app_context():
        stmt = db.select(AuditEvent).order_by(AuditEvent.id)
        if event:
            stmt = stmt.where(AuditEvent.event == event)
        rows = list(db.session.scalars(stmt))
        db.session.remove()
        return rows


def _buffered(app, **options) -> AuditBuffer:  # type: ignore[no-untyped-def]
    """Turn on buffering of ``jump`` with a buffer of the given options."""
    app.config["AUDIT_BUFFERED"] = frozenset({"jump"})
    with app.app_context():
        buffer = AuditBuffer(db.engine, AuditEvent.__table__, **options)
    hub_state(app).features["audit.buffer"] = buffer
    return buffer


@pytest.fixture
def slow(app):  # type: ignore[no-untyped-def]
    """Buffering on, with a thread that would wait a minute: only flush() writes."""
    buffer = _buffered(app, interval=60)
    yield buffer
    close_buffer(app)


def _wait_for(predicate, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Poll the database until the buffer's own thread has written (``seconds`` bounds a hang)."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < seconds, "timed out"
        time.sleep(0.02)


def test_parse_buffered() -> None:
    assert parse_buffered(None) == parse_buffered("") == frozenset({"jump"})
    assert parse_buffered("none") == parse_buffered(" None ") == frozenset()
    assert parse_buffered("jump, login_ok") == frozenset({"jump", "login_ok"})
    with pytest.raises(ValueError):
        parse_buffered("jump,bad name")


def test_configuration_variable(tmp_path: Path) -> None:
    assert load_config(tmp_path, environ={})["AUDIT_BUFFERED"] == frozenset({"jump"})
    assert load_config(tmp_path, environ={"SSO_AUDIT_BUFFERED": "none"})["AUDIT_BUFFERED"] == frozenset()
    with pytest.raises(ConfigError, match="SSO_AUDIT_BUFFERED"):
        load_config(tmp_path, environ={"SSO_AUDIT_BUFFERED": "jump;drop table"})


@BOTH
def test_buffered_jump_reaches_the_table_after_flush(app, client, auth, connected_app, slow) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    response = client.get("/sso/jump/invoices?return_to=/x")
    assert response.status_code == 302 and response.headers["Cache-Control"] == "no-store"
    assert slow.pending == 1 and not _rows(app, "jump")  # off the request path
    assert [r.event for r in _rows(app)] == ["login_ok"]  # security events stay synchronous
    with app.app_context():
        assert flush() == 1
    (row,) = _rows(app, "jump")
    assert row.actor == "ann" and row.app_slug == "invoices" and row.ip == "127.0.0.1"
    assert row.detail == {"flow": "jump", "return_to": "/x"} and row.at is not None
    assert row.user_id == _rows(app, "login_ok")[0].user_id


AWKWARD = "tab\there\nnew line \\ back\\slash 'single' \"double\" \\N ünïcode ☃ \u202e"


@BOTH
def test_a_batch_round_trips_awkward_values(app, db_backend: str, slow) -> None:  # type: ignore[no-untyped-def]
    """COPY on PostgreSQL (executemany elsewhere) stores exactly what an INSERT would."""
    assert slow._copy is (db_backend == "postgres")  # the path this backend takes
    with app.app_context():
        for number in range(3):
            record("jump", app="in\tvoices", actor=AWKWARD,
                   detail={"value": AWKWARD, "n": number, "none": None, "flag": True})
        assert flush() == 3
    rows = _rows(app, "jump")
    assert [r.detail for r in rows] == [
        {"value": AWKWARD, "n": n, "none": None, "flag": True} for n in range(3)
    ]
    assert {r.actor for r in rows} == {AWKWARD} and {r.app_slug for r in rows} == {"in\tvoices"}
    assert {r.user_id for r in rows} == {None} and {r.ip for r in rows} == {None}
    assert all(r.at is not None and r.at.utcoffset() in (None, timedelta(0)) for r in rows)


@BOTH
def test_thread_flushes_by_itself(app) -> None:  # type: ignore[no-untyped-def]
    _buffered(app, interval=0.1)
    try:
        with app.app_context():
            for number in range(3):
                record("jump", app="invoices", actor="cli", detail={"n": number})
        _wait_for(lambda: len(_rows(app, "jump")) == 3)  # no flush(): only the thread writes
        assert sorted(r.detail["n"] for r in _rows(app, "jump")) == [0, 1, 2]
    finally:
        close_buffer(app)


def test_full_batch_wakes_the_thread(app) -> None:  # type: ignore[no-untyped-def]
    _buffered(app, interval=60, batch_size=5)
    try:
        with app.app_context():
            for _ in range(5):
                record("jump", app="invoices", actor="cli")
        _wait_for(lambda: len(_rows(app, "jump")) == 5, seconds=5)
    finally:
        close_buffer(app)


def test_full_queue_falls_back_to_a_synchronous_write(app) -> None:  # type: ignore[no-untyped-def]
    buffer = _buffered(app, interval=60, capacity=2)
    try:
        with app.app_context():
            for number in range(5):
                record("jump", app="invoices", actor="cli", detail={"n": number})
        assert buffer.pending == 2
        assert sorted(r.detail["n"] for r in _rows(app, "jump")) == [2, 3, 4]  # written at once
    finally:
        close_buffer(app)
    assert sorted(r.detail["n"] for r in _rows(app, "jump")) == [0, 1, 2, 3, 4]  # none dropped


def test_none_keeps_everything_synchronous(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    assert app.config["AUDIT_BUFFERED"] == frozenset()  # the shared test configuration
    auth.login()
    assert client.get("/sso/jump/invoices").status_code == 302
    assert len(_rows(app, "jump")) == 1
    assert "audit.buffer" not in hub_state(app).features


def test_inside_a_transaction_is_never_buffered(app, slow) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        with transaction():
            record("jump", app="invoices", actor="cli")
            assert slow.pending == 0
    assert slow.pending == 0 and len(_rows(app, "jump")) == 1


def test_a_rolled_back_transaction_keeps_no_audit_row(app, slow) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), pytest.raises(RuntimeError):
        with transaction():
            record("jump", app="invoices", actor="cli")
            raise RuntimeError("the change failed")
    assert slow.pending == 0 and _rows(app, "jump") == []


def test_admin_page_flushes_before_reading(app, client, auth, connected_app, slow) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    client.get("/sso/jump/invoices")
    auth.logout()
    auth.login_admin()
    assert slow.pending == 1
    page = client.get("/admin/audit/?event=jump").data.decode()
    assert page.count('class="audit-row"') == 1 and slow.pending == 0


def test_a_forked_process_gets_its_own_buffer(app, slow) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        assert audit_buffer() is slow
        slow.pid = -1  # as seen from a child after fork: the inherited buffer is not used
        fresh = audit_buffer()
    try:
        assert fresh is not slow and fresh is not None and fresh.pid > 0
    finally:
        slow.pid = fresh.pid
        fresh.close()
        hub_state(app).features["audit.buffer"] = slow


def test_a_failed_flush_keeps_its_rows_until_the_database_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The database cannot be written (here: no audit table yet); the rows wait in the queue
    and are written, oldest first, once it can."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'later.sqlite3'}")
    buffer = AuditBuffer(engine, AuditEvent.__table__, interval=60)
    try:
        assert buffer.put({"event": "jump", "actor": "ann", "user_id": 7, "app_slug": "invoices",
                           "detail": {"n": 1}})
        with caplog.at_level(logging.WARNING, logger="sso.audit.buffer"):
            assert buffer.flush() == 0
        messages = [r.getMessage() for r in caplog.records]
        assert any("retrying once" in m for m in messages)
        assert any("kept, to be written when the database answers" in m for m in messages)
        assert not any("lost" in m for m in messages)
        assert buffer.pending == 1
        assert buffer.put({"event": "jump", "actor": "bob", "user_id": 8, "app_slug": "invoices",
                           "detail": {"n": 2}})
        AuditEvent.__table__.create(engine)  # type: ignore[attr-defined]  # the database is back
        assert buffer.flush() == 2 and buffer.pending == 0
        with engine.connect() as conn:
            assert [row.actor for row in conn.execute(sa.text("SELECT actor FROM audit_events ORDER BY id"))] == [
                "ann", "bob"]
    finally:
        buffer.close()
        engine.dispose()


def test_the_thread_writes_kept_rows_by_itself_when_the_database_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'back.sqlite3'}")
    buffer = AuditBuffer(engine, AuditEvent.__table__, interval=0.02)
    caplog.set_level(logging.WARNING, logger="sso.audit.buffer")
    try:
        for n in range(3):
            assert buffer.put({"event": "jump", "actor": "ann", "detail": {"n": n}})

        def tried_and_kept() -> bool:
            return buffer.pending == 3 and any("kept" in r.getMessage() for r in caplog.records)

        _wait_for(tried_and_kept)
        AuditEvent.__table__.create(engine)  # type: ignore[attr-defined]

        def written() -> bool:
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar() == 3

        _wait_for(written)
        assert buffer.pending == 0
    finally:
        buffer.close()
        engine.dispose()


def test_rows_that_cannot_be_written_at_close_are_logged_as_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no audit table in it
    buffer = AuditBuffer(engine, AuditEvent.__table__, interval=60)
    try:
        assert buffer.put({"event": "jump", "actor": "ann", "user_id": 7, "app_slug": "invoices",
                           "detail": {"flow": "jump"}})
        with caplog.at_level(logging.WARNING, logger="sso.audit.buffer"):
            buffer.close()
        messages = [r.getMessage() for r in caplog.records]
        assert any("failed again" in m and "lost" in m for m in messages)
        assert any("audit event lost: jump user_id=7 app=invoices" in m for m in messages)
        assert buffer.pending == 0
    finally:
        engine.dispose()


def test_pending_events_are_written_at_exit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'exit.sqlite3'}"
    engine = sa.create_engine(url)
    AuditEvent.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
    script = textwrap.dedent(f"""
        import sqlalchemy as sa
        from sso.audit.buffer import AuditBuffer
        from sso.audit.models import AuditEvent
        engine = sa.create_engine({url!r})
        buffer = AuditBuffer(engine, AuditEvent.__table__, interval=60)
        for n in range(3):
            assert buffer.put({{"event": "jump", "actor": "ann", "detail": {{"n": n}}}})
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar() == 3
    finally:
        engine.dispose()


@BOTH
def test_every_path_stamps_rows_with_the_app_clock(app, clock, slow) -> None:  # type: ignore[no-untyped-def]
    """Joined to a use case's transaction, written alone, or buffered: ``at`` is the app's time."""
    pinned = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
    clock.set(pinned.timestamp())
    with app.app_context():
        with transaction():
            record("user_changed", actor="cli")
        record("login_failed", actor="cli")
        record("jump", app="invoices", actor="cli")
        assert flush() == 1
    stamps = {row.event: row.at.replace(tzinfo=row.at.tzinfo or UTC) for row in _rows(app)}
    assert stamps == {"user_changed": pinned, "login_failed": pinned, "jump": pinned}
