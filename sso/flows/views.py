"""The two flows that carry a logged-in user into a connected app.

* Jump: ``GET /sso/jump/<slug>?return_to=...`` (the top-menu button).
* Service-initiated: ``GET /sso/multipass/<slug>?login_url=...&return_to=...``
  (the app's own login diverted to the hub).
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user

from ..audit import record
from ..connected_apps.service import codec_for, get_issuing_app
from sso.base.errors import Forbidden, ValidationError
from sso.error_pages import render_error
from sso.base.redirects import check_login_url, safe_return_to
from .multipass import MultipassProtocol
from .protocol import SignOnProtocol

bp = Blueprint("flows", __name__, url_prefix="/sso")

PROTOCOLS: dict[str, SignOnProtocol] = {"multipass": MultipassProtocol(codec_for)}


def _protocol() -> SignOnProtocol:
    return PROTOCOLS["multipass"]


def _to_login():  # type: ignore[no-untyped-def]
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def _check_usable(app) -> None:  # type: ignore[no-untyped-def]
    if not app.enabled:
        raise Forbidden(f"The app {app.name} is disabled at the moment. Ask IT.")
    if not current_user.active:
        raise Forbidden("Your account is disabled. Ask an administrator.")


def _token_response(location: str):  # type: ignore[no-untyped-def]
    """A 302 to ``location`` with an empty body: the token travels in the Location header
    only (no HTML page repeating it), and nothing may cache or refer it on."""
    return current_app.response_class(status=302, headers=[
        ("Location", location),
        ("Cache-Control", "no-store"),
        ("Pragma", "no-cache"),
        ("Referrer-Policy", "no-referrer"),
    ])


def _return_to(app) -> str | None:  # type: ignore[no-untyped-def]
    raw = request.args.get("return_to")
    if raw is None or raw == "":
        return None
    kept = safe_return_to(raw, app.allowed_origins)
    if kept is None:
        record("redirect_refused", user=current_user if current_user.is_authenticated else None,
               app=app, detail={"parameter": "return_to", "value": raw})
    return kept


@bp.get("/jump/<slug>")
def jump(slug: str):  # type: ignore[no-untyped-def]
    """Issue a token for the logged-in user and send them to the app's login URL."""
    app = get_issuing_app(slug)
    user = current_user._get_current_object()  # the proxy resolved once
    if not user.is_authenticated:
        return _to_login()
    _check_usable(app)
    return_to = _return_to(app)
    try:
        location = _protocol().issue(user, app, return_to)
    except ValidationError as err:  # no secret configured yet
        return render_error(409, err.message, title="App not ready")
    record("jump", user=user, app=app, detail={"flow": "jump", "return_to": return_to})
    return _token_response(location)


@bp.get("/multipass/<slug>")
def service_initiated(slug: str):  # type: ignore[no-untyped-def]
    """The app sent the user here to log in; send them back to ``login_url`` with a token."""
    app = get_issuing_app(slug)
    raw_login_url = request.args.get("login_url", "")
    try:
        login_url = check_login_url(raw_login_url, app.allowed_origins)
    except ValidationError as err:
        record("redirect_refused", user=current_user if current_user.is_authenticated else None,
               app=app, detail={"parameter": "login_url", "value": raw_login_url})
        return render_error(400, err.message, title="Address refused")
    if not current_user.is_authenticated:
        return _to_login()
    _check_usable(app)
    return_to = _return_to(app)
    try:
        location = _protocol().issue(current_user, app, return_to, login_url=login_url)
    except ValidationError as err:
        return render_error(409, err.message, title="App not ready")
    record("jump", user=current_user, app=app, detail={"flow": "service", "return_to": return_to})
    return _token_response(location)
