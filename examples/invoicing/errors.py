"""Error pages: every 4xx/5xx is a short page (or SCIM JSON under /scim), never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .scim.views import bp as scim_bp
from .scim.views import error_response as scim_error_response

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Register the handlers on ``app``."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _csrf_error(err: CSRFError) -> tuple[str, int]:
    return (
        render_template(
            "message.html",
            title="Form expired",
            message="This form has expired or was not sent from this site.",
            fix="Go back, reload the page and try again.",
        ),
        400,
    )


def _http_error(err: HTTPException) -> Response | tuple[str, int]:
    status = err.code or 500
    if request.path.startswith(scim_bp.url_prefix or "/scim/v2"):
        return scim_error_response(status, err.description or err.name)
    return render_template("message.html", title=f"{status} {err.name}", message=err.description, fix=""), status


def _unexpected(err: Exception) -> Response | tuple[str, int]:
    log.exception("Unexpected error on %s %s", request.method, request.path)
    return _http_error(InternalServerError())
