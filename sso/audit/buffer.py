"""A buffered audit writer: frequent, low-risk events leave the request path.

Every jump writes an audit row. Committed one by one inside the request, those writes
serialise (SQLite's single writer, PostgreSQL's WAL flush per commit) and set the pace of
the hub under load. The events named in ``SSO_AUDIT_BUFFERED`` (default ``jump``; ``none``
turns buffering off) are instead put on a bounded in-process queue and written by a daemon
thread as one batch, in its own connection and transaction: on PostgreSQL through psycopg
with ``COPY ... FROM STDIN`` (the bulk path PostgreSQL and psycopg recommend), elsewhere as
one ``INSERT`` run with the driver's ``executemany`` (SQLAlchemy Core). The writer's CPU is
taken from the request threads (the GIL), so the batch form shows in the hub's throughput.
Measured here per row: a multi-row ``INSERT ... VALUES (...), (...)``, compiled afresh for
every batch size, 75-135 µs; ``executemany`` 14-27 µs; ``COPY`` about 6 µs. Batches go out:

* every ``interval`` seconds (~150 ms), or at once when ``batch_size`` events are pending;
* on demand with :meth:`AuditBuffer.flush` (tests; the audit admin page flushes before it
  reads, so an admin never misses a fresh entry written by the same worker);
* at interpreter exit (``atexit``), e.g. when a gunicorn worker stops.

One buffer per worker process and app: it is created lazily on first use and keyed by the
process id, so a buffer inherited through ``fork`` is never used (its thread does not exist
in the child) and its pending events stay the parent's to write.

When the queue is full the event is written synchronously, inside the request, as if
buffering were off: events are never dropped for lack of room. A failed flush is logged
(counts and the error's class; never row contents) and retried once. If the retry fails too
(the database is down), the rows go back to the front of the queue and the thread tries
again later, waiting longer after each failure (up to 32 intervals, about 5 s): an outage
loses no event. Meanwhile new events queue up to the bound, then are written synchronously
(and fail like any other write, with the 503 page). Only at exit or :meth:`close` are rows
that still cannot be written given up, logged one line each (event, user id, app, time).

Trade-off, to be weighed by whoever deploys the hub: if a worker process dies abruptly
(SIGKILL, out-of-memory kill, power loss), the buffered events of its last ~200 ms are lost,
and entries appear in the table up to ~200 ms after the response went out (on another
worker's audit page). Security-relevant events (login_ok/failed, logout, secret and app
changes, redirect_refused, user changes) are not buffered by default and stay synchronous.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import JSON, Connection, Table, insert
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

DEFAULT_BUFFERED = frozenset({"jump"})
DEFAULT_INTERVAL = 0.15  # seconds between flushes of the daemon thread
DEFAULT_BATCH_SIZE = 200  # pending events that wake the thread at once
DEFAULT_CAPACITY = 10_000  # queue bound; beyond it, record() writes synchronously
_RETRY_DELAY = 0.05
_MAX_BACKOFF = 32  # intervals to wait at most between tries while the database is down


def parse_buffered(raw: str | Iterable[str] | None) -> frozenset[str]:
    """The event names to buffer from ``SSO_AUDIT_BUFFERED``-style input.

    ``None`` or blank gives the default (``jump``); ``none`` gives the empty set; otherwise a
    comma-separated list (or an iterable) of event names. Raises ValueError on a bad name.
    """
    if raw is None:
        return DEFAULT_BUFFERED
    items = [part.strip() for part in (raw.split(",") if isinstance(raw, str) else raw)]
    items = [item for item in items if item]
    if not items:
        return DEFAULT_BUFFERED
    if [item.lower() for item in items] == ["none"]:
        return frozenset()
    for item in items:
        if len(item) > 40 or not item.replace("_", "").isalnum() or not item.isascii():
            raise ValueError(f"bad audit event name {item!r}")
    return frozenset(items)


class AuditBuffer:
    """A bounded queue of audit rows written by a daemon thread in batches (COPY or executemany).

    ``put`` never blocks on the database: it returns False when the queue is full, and the
    caller then writes synchronously. :meth:`flush` writes everything put before the call.
    """

    def __init__(
        self,
        engine: Engine,
        table: Table,
        *,
        interval: float = DEFAULT_INTERVAL,
        batch_size: int = DEFAULT_BATCH_SIZE,
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        if interval <= 0 or batch_size < 1 or capacity < 1:
            raise ValueError("interval, batch_size and capacity must be positive")
        self.engine, self.table = engine, table
        self._insert = insert(table)  # one statement, compiled once and cached by SQLAlchemy
        self._copy = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        self.interval, self.batch_size, self.capacity = interval, batch_size, capacity
        self.pid = os.getpid()
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # guards _pending
        self._wake = threading.Condition(self._lock)
        self._write_lock = threading.Lock()  # one writer at a time: flush() waits for the thread
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failures = 0  # flushes failed in a row (the database is down); guarded by _lock
        self._atexit = _AtExit(self)
        atexit.register(self._atexit)

    # -- producer side ------------------------------------------------------------------

    def put(self, row: Mapping[str, Any]) -> bool:
        """Queue one row (the audit table's columns); False when full or closed."""
        with self._lock:
            if self._closed or len(self._pending) >= self.capacity:
                return False
            self._pending.append(dict(row))
            if self._thread is None:
                self._start()
            if len(self._pending) >= self.batch_size and not self._failures:
                self._wake.notify()  # while the database is down, the thread keeps its pace
        return True

    @property
    def pending(self) -> int:
        """How many rows wait to be written."""
        with self._lock:
            return len(self._pending)

    # -- writer side --------------------------------------------------------------------

    def flush(self, *, last_chance: bool = False) -> int:
        """Write every row queued so far, now, in this thread; return how many were written.

        When the daemon thread is writing a batch, waits for it first, so on return every
        row put before the call is in the table, or back in the queue because the database
        could not be written (or, with ``last_chance``, at exit, logged as lost).
        """
        with self._write_lock:
            with self._lock:
                rows, self._pending = self._pending, []
            return self._write(rows, last_chance=last_chance)

    def close(self) -> None:
        """Flush, stop the thread, and forget the atexit hook. Later puts return False."""
        with self._lock:
            self._closed = True
            self._wake.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self.flush(last_chance=True)
        atexit.unregister(self._atexit)

    def _start(self) -> None:
        thread = threading.Thread(target=self._run, name=f"audit-buffer-{self.pid}", daemon=True)
        self._thread = thread
        thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._closed and (self._failures or len(self._pending) < self.batch_size):
                    self._wake.wait(self.interval * min(2**self._failures, _MAX_BACKOFF))
                closed = self._closed
            try:
                self.flush(last_chance=closed)
            except Exception:  # never let the thread die: log and go on
                log.exception("audit buffer: unexpected error while flushing")
            if closed:
                return

    def _write(self, rows: list[dict[str, Any]], *, last_chance: bool) -> int:
        if not rows:
            return 0
        for attempt in (1, 2):
            try:
                with self.engine.begin() as conn:
                    if self._copy and _same_columns(rows):
                        _copy_rows(conn, self.table, rows)
                    else:
                        conn.execute(self._insert, rows)  # a list of rows: the driver's executemany
            except Exception as err:
                if attempt == 1:
                    log.warning("audit buffer: writing %d event(s) failed (%s); retrying once",
                                len(rows), type(err).__name__)
                    time.sleep(_RETRY_DELAY)
                    continue
                if last_chance:
                    log.error("audit buffer: writing %d event(s) failed again (%s); these events are lost:",
                              len(rows), type(err).__name__)
                    for row in rows:
                        log.error("audit event lost: %s user_id=%s app=%s at=%s", row.get("event"),
                                  row.get("user_id"), row.get("app_slug"), row.get("at"))
                    return 0
                with self._lock:  # oldest first; at most twice the bound (these and new puts)
                    self._pending = rows + self._pending
                    self._failures += 1
                log.error("audit buffer: writing %d event(s) failed again (%s); kept, to be written "
                          "when the database answers", len(rows), type(err).__name__)
                return 0
            with self._lock:
                self._failures = 0
            return len(rows)
        return 0


def _same_columns(rows: list[dict[str, Any]]) -> bool:
    """True when every row names the same columns (COPY sends one column list for all)."""
    first = rows[0].keys()
    return all(row.keys() == first for row in rows)


def _copy_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` with PostgreSQL's ``COPY ... FROM STDIN`` through psycopg 3.

    Values are adapted by psycopg as in any query (NULLs, tabs, newlines and backslashes are
    escaped by its COPY writer); JSON columns are serialised here, as SQLAlchemy's JSON type
    would (``None`` becomes JSON ``null``). Column defaults do not apply: rows name every
    column they fill, as :func:`sso.audit.service.record` does.
    """
    from psycopg import sql  # only on this path: SQLite deployments need no psycopg

    names = list(rows[0])
    as_json = [isinstance(table.c[name].type, JSON) for name in names]
    target = sql.Identifier(table.schema, table.name) if table.schema else sql.Identifier(table.name)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(target, sql.SQL(", ").join(map(sql.Identifier, names)))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([json.dumps(row[name]) if is_json else row[name]
                            for name, is_json in zip(names, as_json, strict=True)])


class _AtExit:
    """The atexit hook of a buffer, holding it weakly so a dropped buffer can be collected."""

    def __init__(self, buffer: AuditBuffer) -> None:
        self._ref = weakref.ref(buffer)

    def __call__(self) -> None:
        buffer = self._ref()
        if buffer is not None and buffer.pid == os.getpid():
            try:
                buffer.flush(last_chance=True)
            except Exception:
                log.exception("audit buffer: flush at exit failed")
