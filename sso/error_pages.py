"""The error pages: how the hub's exceptions and HTTP errors reach a browser.

Every error a user can meet ends on ``templates/error.html``: a title in words ("Access
denied", never "Error 403"), a plain message, and the next step a person can take (sign in,
go to the start page, try again). Administrators also see one line of detail (status and
kind of error); nobody sees a stack trace or a secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.exceptions import HTTPException, MethodNotAllowed

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
    429: ErrorText("Too many attempts", "There were too many attempts in a short time.",
                   "Wait a minute, then try again."),
    500: ErrorText("Something went wrong", "Something went wrong on our side.",
                   "Try again in a few minutes. If it keeps happening, tell your administrator."),
}


def error_text(status: int) -> ErrorText:
    """The words for ``status`` (a 4xx without its own words reads as 400, a 5xx as 500)."""
    return TEXTS.get(status) or TEXTS[500 if status >= 500 else 400]


def _viewer() -> tuple[bool, bool]:
    """(signed in, administrator); (False, False) when the user cannot be loaded (database down)."""
    try:
        return bool(current_user.is_authenticated), bool(current_user.is_authenticated and current_user.is_admin)
    except Exception:  # the 500 page must render even when loading the user fails
        log.warning("error page: could not load the current user", exc_info=True)
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
    for the person who made the request); ``detail`` is shown to administrators only.
    """
    text = error_text(status)
    signed_in, admin = _viewer()
    page = render_template(
        "error.html", status=status, title=title or text.title, message=message or text.message,
        advice=text.advice, next_steps=_next_steps(status, signed_in),
        detail=(detail or f"HTTP {status}") if admin else None,
    )
    return page, status


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(HubError)
    def handle_hub_error(err: HubError) -> ResponseReturnValue:
        return render_error(err.status, err.message, title=err.title,
                            detail=f"HTTP {err.status}, {type(err).__name__}")

    @app.errorhandler(HTTPException)
    def handle_http(err: HTTPException) -> ResponseReturnValue:
        status = err.code or 500
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
        log.exception("unhandled error")
        return render_error(500, detail=f"HTTP 500, {type(err).__name__}: see the server log")
