"""The error pages: how the hub's exceptions and HTTP errors reach a browser.

Every error a user can meet ends on ``templates/error.html``: a title in words ("Access
denied", never "Error 403"), a plain message, and the next step a person can take (sign in,
go to the start page, try again). Administrators also see one line of detail (status and
kind of error); nobody sees a stack trace or a secret.

Before any error page is drawn, the request's database transaction is rolled back (a failed
statement leaves it unusable, and the page itself reads the user and the menu). When the
database cannot be reached at all, the answer is a 503 on ``templates/error_plain.html``, a
page that needs no data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, current_app, render_template, request, url_for
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, MethodNotAllowed, SecurityError

from .base.db import db
from .base.errors import HubError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorText:
    """What a person reads for one status: the page's title, what happened, what to do."""

    title: str
    message: str
    advice: str


TEXTS: dict[int, ErrorText] = {
    400: ErrorText("Something in the request was wrong", "The page could not use what was sent.",
                   "Go back, check what you entered and try again."),
    401: ErrorText("Please sign in", "You need to sign in to see this page.", "Sign in, then try again."),
    403: ErrorText("Access denied", "You are not allowed to do this.",
                   "If you need access, ask your administrator."),
    404: ErrorText("Page not found", "There is no page at this address.",
                   "Check the address, or start again from the start page."),
    405: ErrorText("Not available here", "This address does not accept that kind of request.",
                   "Start again from the start page."),
    409: ErrorText("Not possible right now", "This cannot be done right now.", "Try again later."),
    413: ErrorText("Too large", "What you sent is too large.", "Send a smaller file or less text."),
    415: ErrorText("Form data only", "This address accepts only forms sent from its own pages, not JSON or "
                   "other content.", "Use the page's form."),
    429: ErrorText("Too many attempts", "There were too many attempts in a short time.",
                   "Wait a minute, then try again."),
    500: ErrorText("Something went wrong", "Something went wrong on our side.",
                   "Try again in a few minutes. If it keeps happening, tell your administrator."),
    503: ErrorText("Temporarily unavailable", "The service is temporarily unavailable.",
                   "Try again in a few minutes."),
}
RETRY_AFTER_SECONDS = 30


def error_text(status: int) -> ErrorText:
    """The words for ``status`` (a 4xx without its own words reads as 400, a 5xx as 500)."""
    return TEXTS.get(status) or TEXTS[500 if status >= 500 else 400]


def _rollback() -> None:
    """End the request's transaction; a database that is gone cannot spoil the error page."""
    try:
        db.session.rollback()
    except Exception:  # the connection may be dead; the page must still be drawn
        log.warning("rollback before the error page failed", exc_info=True)


def _viewer() -> tuple[bool, bool]:
    """(signed in, administrator); (False, False) when the user cannot be loaded (database down)."""
    try:
        return bool(current_user.is_authenticated), bool(current_user.is_authenticated and current_user.is_admin)
    except Exception:  # the 500 page must render even when loading the user fails
        log.warning("error page: could not load the current user", exc_info=True)
        _rollback()
        return False, False


def _next_steps(status: int, signed_in: bool) -> list[tuple[str, str]]:
    """Links for what to do next: (label, URL)."""
    steps: list[tuple[str, str]] = []
    if status in (401, 403) and not signed_in:
        here = request.full_path.rstrip("?") if request.method == "GET" else None
        steps.append(("Sign in", url_for("accounts.login", next=here) if here else url_for("accounts.login")))
    if status in (429, 500, 503) and request.method == "GET":
        steps.append(("Try again", request.full_path.rstrip("?")))
    steps.append(("Go to the start page", url_for("portal.home")))
    return steps


def render_error(
    status: int, message: str | None = None, title: str | None = None, detail: str | None = None
) -> tuple[str, int]:
    """Return the error page response for ``status``.

    ``message`` replaces the standard words for the status (a use case's message is written
    for the person who made the request); ``detail`` is shown to administrators only. Falls
    back to the page that needs no data when the full page cannot be drawn (for example
    because the database is unreachable).
    """
    text = error_text(status)
    try:
        signed_in, admin = _viewer()
        page = render_template(
            "error.html", status=status, title=title or text.title, message=message or text.message,
            advice=text.advice, next_steps=_next_steps(status, signed_in),
            detail=(detail or f"HTTP {status}") if admin else None,
        )
    except Exception:  # the error page must not fail in turn
        log.warning("the error page could not be drawn; using the plain one", exc_info=True)
        _rollback()
        return plain_page(status, message or text.message, title or text.title), status
    return page, status


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
    return template.render(status=status, message=message, title=title or error_text(status).title,
                           style=style, home=home)


def database_unavailable(err: BaseException) -> bool:
    """True when ``err`` says the database cannot be reached (down, restarted, pool empty)."""
    if isinstance(err, (OperationalError, PoolTimeout)):
        return True
    return isinstance(err, DBAPIError) and bool(err.connection_invalidated)


def unavailable_page(dependency: str) -> ResponseReturnValue:
    """503 with Retry-After, on the page that needs no data."""
    log.warning("%s unavailable: answering 503", dependency)
    text = error_text(503)
    page = plain_page(503, f"{text.message} {text.advice}", text.title)
    return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(HubError)
    def handle_hub_error(err: HubError) -> ResponseReturnValue:
        _rollback()
        detail = f"HTTP {err.status}, {type(err).__name__}"
        if err.status == 503:
            page, code = render_error(err.status, err.message, title=err.title, detail=detail)
            return page, code, {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return render_error(err.status, err.message, title=err.title, detail=detail)

    @app.errorhandler(HTTPException)
    def handle_http(err: HTTPException) -> ResponseReturnValue:
        status = err.code or 500
        if status >= 500:
            _rollback()
        if isinstance(err, SecurityError):  # a Host that is not in TRUSTED_HOSTS
            return plain_page(400, "This site is not served at this address."), 400
        detail = f"HTTP {status} {err.name}"
        if err.__class__.__name__ == "CSRFError":
            return render_error(
                400, "The form was out of date or did not come from this site. Reload the page and try again.",
                title="The form has expired", detail=f"{detail}, CSRF check failed",
            )
        page, code = render_error(status, detail=detail)
        if isinstance(err, MethodNotAllowed) and err.valid_methods:
            return page, code, {"Allow": ", ".join(err.valid_methods)}
        return page, code

    @app.errorhandler(Exception)
    def handle_unexpected(err: Exception) -> ResponseReturnValue:
        _rollback()
        if database_unavailable(err):
            return unavailable_page("database")
        log.exception("unhandled error")
        return render_error(500, detail=f"HTTP 500, {type(err).__name__}: see the server log")
