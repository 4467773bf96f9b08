"""The error pages: how the hub's exceptions and HTTP errors reach a browser.

Every error a user can meet ends on ``templates/error.html`` with a status code and a
plain message: never a stack trace, never a secret.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed

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
}


def render_error(status: int, message: str | None = None, title: str | None = None) -> tuple[str, int]:
    """Return the error page response for ``status`` with a plain ``message``."""
    text = message or _MESSAGES.get(status, _MESSAGES[400])
    return render_template("error.html", status=status, message=text, title=title), status


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(HubError)
    def handle_hub_error(err: HubError) -> ResponseReturnValue:
        return render_error(err.status, err.message, title=err.title)

    @app.errorhandler(HTTPException)
    def handle_http(err: HTTPException) -> ResponseReturnValue:
        status = err.code or 500
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
        log.exception("unhandled error")
        return render_error(500)
