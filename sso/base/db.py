"""The database handle and the declarative base of every hub model (and of plugins' models)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.orm import DeclarativeBase, Session

__all__ = ["Base", "NAMING", "db", "in_transaction", "init_app", "transaction"]

# Stable constraint names, so migrations agree on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every hub model."""

    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)

_DEPTH = "sso.transaction_depth"
_AFTER_COMMIT = "sso.after_commit"


@contextmanager
def transaction() -> Iterator[None]:
    """The unit of work of one use case: everything inside commits once, or not at all.

    Re-entrant: a use case that calls another (pairing's "create in hub" calls
    ``create_user``) shares the outer transaction, and only the outermost block commits.
    Any exception rolls the whole unit back and propagates. Audit rows recorded inside
    (:func:`sso.audit.record`) are part of the same commit.
    """
    session = db.session
    depth: int = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        yield
        if depth == 0:
            session.commit()
    except BaseException:
        if depth == 0:
            session.rollback()
            session.info.pop(_AFTER_COMMIT, None)  # what was to follow the commit never happened
        raise
    finally:
        session.info[_DEPTH] = depth
    if depth == 0:
        for callback in session.info.pop(_AFTER_COMMIT, []):
            callback()


def in_transaction() -> bool:
    """True inside a :func:`transaction` block (its outermost block will commit)."""
    return bool(db.session.info.get(_DEPTH, 0))


def after_commit(callback: Callable[[], object]) -> None:
    """Run ``callback`` once the current use case has committed (at once outside one).

    For what must not happen unless the change is stored, and must not wait inside the
    transaction: telling other systems (a signal whose receivers call out over HTTP). If the
    transaction rolls back, the callback is dropped."""
    if in_transaction():
        db.session.info.setdefault(_AFTER_COMMIT, []).append(callback)
    else:
        callback()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: write-ahead log (readers never wait for a writer, cheap commits), wait
    instead of failing when another worker writes, and enforce foreign keys."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def init_app(app: Flask) -> None:
    """Bind the database to ``app``; SQLite connections get the pragmas above."""
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_pragmas):
                event.listen(engine, "connect", _sqlite_pragmas)


def on_write(models: tuple[type, ...], callback: Callable[[], object], *, name: str) -> None:
    """Call ``callback`` whenever a session flushes a new, changed or deleted instance of
    ``models``, and once more after that transaction commits or rolls back (a reload between
    the flush and the commit saw the old rows). For the per-worker caches: a change made in
    this process drops them at once. ``name`` tells the registrations apart."""
    flag = f"sso.written.{name}"

    def touches(session: Session) -> bool:
        return any(isinstance(obj, models) for group in (session.new, session.dirty, session.deleted) for obj in group)

    def flushed(session: Session, _context: Any) -> None:
        if touches(session):
            session.info[flag] = True
            callback()

    def ended(session: Session) -> None:
        if session.info.pop(flag, False):
            callback()

    event.listen(Session, "after_flush", flushed)
    event.listen(Session, "after_commit", ended)
    event.listen(Session, "after_rollback", ended)
