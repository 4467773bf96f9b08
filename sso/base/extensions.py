"""Flask extensions other than the database, created unbound here and bound in :func:`init_app`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address, get_qualified_name
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from .db import db
from .db import init_app as init_db

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")

migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


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


def _skip_limiter_hooks_where_no_limit_applies(app: Flask) -> None:
    """Run Flask-Limiter's request hooks only for endpoints that carry a limit.

    Flask-Limiter registers three hooks on every request: the limit check before it, the
    header injection (and conditional deductions) after it, and a context reset at teardown.
    The request filter above already makes them no-ops for unlimited endpoints, but each
    still resolves its per-request context first; every jump paid for all three. Each hook
    is wrapped in place; if a Flask-Limiter version registers its hooks differently, a hook
    that is not found is left as it is (and still works, only slower).
    """
    check = limiter._check_request_limit  # noqa: SLF001 - the bound methods init_app registered
    release = limiter._Limiter__release_context  # type: ignore[attr-defined]  # noqa: SLF001
    inject = limiter._Limiter__inject_headers  # type: ignore[attr-defined]  # noqa: SLF001

    def limited_check() -> None:
        if not _no_limit_applies():
            check()

    def limited_inject(response: Any) -> Any:
        return response if _no_limit_applies() else inject(response)

    def limited_release(error: BaseException | None = None) -> None:
        if not _no_limit_applies():
            release(error)

    unbound_inject = Limiter._Limiter__inject_headers  # type: ignore[attr-defined]  # noqa: SLF001

    def is_inject(func: Any) -> bool:  # registered as partial(Limiter.__inject_headers, limiter)
        return getattr(func, "func", None) is unbound_inject and getattr(func, "args", ()) == (limiter,)

    for funcs, matches, wrapper in (
        (app.before_request_funcs.get(None, []), lambda f: f == check, limited_check),
        (app.after_request_funcs.get(None, []), is_inject, limited_inject),
        (app.teardown_request_funcs.get(None, []), lambda f: f == release, limited_release),
    ):
        for index, func in enumerate(funcs):
            if matches(func):
                funcs[index] = wrapper


def init_app(app: Flask) -> None:
    """Bind every extension to ``app``."""
    init_db(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    _skip_limiter_hooks_where_no_limit_applies(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
