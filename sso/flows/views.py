"""The two flows that carry a logged-in user into a connected app (see :mod:`.service`).

* Jump: ``GET /sso/jump/<slug>?return_to=...`` (the top-menu button).
* Service-initiated: ``GET /sso/multipass/<slug>?login_url=...&return_to=...``
  (the app's own login diverted to the hub).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from ..connected_apps.service import get_issuing_app
from . import service

bp = Blueprint("flows", __name__, url_prefix="/sso")


def _to_login() -> ResponseReturnValue:
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def _token_response(location: str) -> Response:
    """A 302 to ``location`` with an empty body: the token travels in the Location header
    only (no HTML page repeating it), and nothing may cache or refer it on."""
    return current_app.response_class(status=302, headers=[
        ("Location", location),
        ("Cache-Control", "no-store"),
        ("Pragma", "no-cache"),
        ("Referrer-Policy", "no-referrer"),
    ])


@bp.get("/jump/<slug>")
def jump(slug: str) -> ResponseReturnValue:
    """Issue a token for the logged-in user and send them to the app's login URL."""
    app = get_issuing_app(slug)
    if app.protocol == "oidc":  # the app signs in itself: its button starts the app's own login
        return redirect(url_for("oidc.start", slug=app.slug))
    user = current_user._get_current_object()  # the proxy resolved once
    if not user.is_authenticated:
        return _to_login()
    return _token_response(service.jump(user, app, request.args.get("return_to")))


@bp.get("/multipass/<slug>")
def service_initiated(slug: str) -> ResponseReturnValue:
    """The app sent the user here to log in; send them back to ``login_url`` with a token."""
    app = get_issuing_app(slug)
    user = current_user._get_current_object()
    signed_in = user if user.is_authenticated else None
    login_url = service.checked_login_url(app, request.args.get("login_url", ""), signed_in)
    if signed_in is None:
        return _to_login()
    return _token_response(service.service_initiated(signed_in, app, login_url, request.args.get("return_to")))
