"""Flask extensions, created unbound here and bound to an app in :func:`init_app`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address, get_qualified_name
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.orm import DeclarativeBase

MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")

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
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


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


@limiter.request_filter
def _no_limit_applies() -> bool:
    """Flask-Limiter request filter: True (skip the limit checks and their storage calls)
    for endpoints with no limit at all: no default or application limit, none on the view,
    none on its blueprint. Only the login view has limits; the jump has none. Worked out once
    per endpoint and app, since limits are declared at import and start-up."""
    endpoint = request.endpoint or ""
    answers: dict[str, bool] = current_app.extensions.setdefault("sso_unlimited_endpoints", {})
    answer = answers.get(endpoint)
    if answer is None:
        manager = limiter.limit_manager
        view = current_app.view_functions.get(endpoint)
        name = get_qualified_name(view) if view is not None else ""
        blueprint = request.blueprint
        answer = answers[endpoint] = not (
            manager.default_limits or manager.application_limits or manager.decorated_limits(name)
            or (blueprint and manager.blueprint_limits(current_app._get_current_object(), blueprint))  # type: ignore[attr-defined]
        )
    return answer


def _skip_limiter_hook_where_no_limit_applies(app: Flask) -> None:
    """Call Flask-Limiter's before-request check only for endpoints that carry a limit.

    The request filter above already makes the check a no-op for the others, but the check
    still resolves exemptions and meta limits first. If a Flask-Limiter version registers
    its hook differently, nothing is replaced and every request is checked as before.
    """
    check = limiter._check_request_limit  # noqa: SLF001 - the bound method init_app registered
    funcs = app.before_request_funcs.get(None, [])
    for index, func in enumerate(funcs):
        if func == check:
            def limited_only() -> None:
                if not _no_limit_applies():
                    check()

            funcs[index] = limited_only


def init_app(app: Flask) -> None:
    """Bind every extension to ``app``."""
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_pragmas):
                event.listen(engine, "connect", _sqlite_pragmas)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    _skip_limiter_hook_where_no_limit_applies(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
