"""The error pages: how the hub's exceptions and HTTP errors reach a browser.

Every error a user can meet ends on ``templates/error.html`` with a status code and a
plain message: never a stack trace, never a secret. Before any error page is drawn, the
request's database transaction is rolled back (a failed statement leaves it unusable, and
the page itself reads the user and the menu). When the database cannot be reached at all,
the answer is a 503 on ``templates/error_plain.html``, a page that needs no data.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, render_template, request, url_for
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, MethodNotAllowed, SecurityError

from .base.db import db
from .base.errors import HubError

log = logging.getLogger(__name__)


_MESSAGES = {
    400: "The request was not understood. Check what you entered and try again.",
    403: "You are not allowed to do this.",
    404: "This page does not exist.",
    405: "This address does not accept that kind of request.",
    413: "The request is too large.",
    415: "This address accepts only forms sent from its own pages (form data), not JSON or other content.",
    429: "Too many attempts.",
    500: "Something went wrong on our side. Please try again later.",
    503: "The service is temporarily unavailable. Please try again in a few minutes.",
}
RETRY_AFTER_SECONDS = 30


def _rollback() -> None:
    """End the request's transaction; a database that is gone cannot spoil the error page."""
    try:
        db.session.rollback()
    except Exception:  # the connection may be dead; the page must still be drawn
        log.warning("rollback before the error page failed", exc_info=True)


def render_error(status: int, message: str | None = None, title: str | None = None) -> tuple[str, int]:
    """Return the error page response for ``status`` with a plain ``message``.

    Falls back to the page that needs no data when the full page cannot be drawn
    (for example because the database is unreachable).
    """
    text = message or _MESSAGES.get(status, _MESSAGES[400])
    try:
        return render_template("error.html", status=status, message=text, title=title), status
    except Exception:  # the error page must not fail in turn
        log.warning("the error page could not be drawn; using the plain one", exc_info=True)
        _rollback()
        return plain_page(status, text, title), status


def plain_page(status: int, message: str, title: str | None = None) -> str:
    """The error page that needs no data, no user and no URL map (a refused ``Host`` has none)."""
    if request_ctx.url_adapter is None:  # the request's host was refused: no URL can be built
        root = request.script_root
        style, home = f"{root}/static/style.css", f"{root}/"
    else:
        style, home = url_for("static", filename="style.css"), url_for("portal.home")
    # Straight from the Jinja environment: no context processors (they read the user and
    # the menu from the database).
    template = current_app.jinja_env.get_template("error_plain.html")
    return template.render(status=status, message=message, title=title, style=style, home=home)


def database_unavailable(err: BaseException) -> bool:
    """True when ``err`` says the database cannot be reached (down, restarted, pool empty)."""
    if isinstance(err, (OperationalError, PoolTimeout)):
        return True
    return isinstance(err, DBAPIError) and bool(err.connection_invalidated)


def unavailable_page(dependency: str) -> ResponseReturnValue:
    """503 with Retry-After, on the page that needs no data."""
    log.warning("%s unavailable: answering 503", dependency)
    page = plain_page(503, _MESSAGES[503], "Temporarily unavailable")
    return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(HubError)
    def handle_hub_error(err: HubError) -> ResponseReturnValue:
        _rollback()
        if err.status == 503:
            page, code = render_error(err.status, err.message, title=err.title or "Temporarily unavailable")
            return page, code, {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return render_error(err.status, err.message, title=err.title)

    @app.errorhandler(HTTPException)
    def handle_http(err: HTTPException) -> ResponseReturnValue:
        status = err.code or 500
        if status >= 500:
            _rollback()
        if isinstance(err, SecurityError):  # a Host that is not in TRUSTED_HOSTS
            return plain_page(400, "This site is not served at this address."), 400
        if err.__class__.__name__ == "CSRFError":
            return render_error(
                400, "The form was out of date or did not come from this site. Reload the page and try again."
            )
        page, code = render_error(status)
        if isinstance(err, MethodNotAllowed) and err.valid_methods:
            return page, code, {"Allow": ", ".join(err.valid_methods)}
        return page, code

    @app.errorhandler(Exception)
    def handle_unexpected(err: Exception) -> ResponseReturnValue:
        _rollback()
        if database_unavailable(err):
            return unavailable_page("database")
        log.exception("unhandled error")
        return render_error(500)
