"""Sign-in through the hub (Multipass), sign-out, and the hub's front-channel logout.

The flow, as a connected app sees it::

    browser -> GET /invoices                  (not signed in)
            -> 302 /login?return_to=/invoices
            -> 302 {HUB}/sso/multipass/{slug}?login_url={this app}/login&return_to=/invoices
            ... the user signs in at the hub (or already is) ...
            -> 302 {this app}/login?multipass=<token>      (or /login/multipass/<token>)
            -> 302 /invoices                  (token checked, used up, session renewed)

Responses that carry or consume a token are never cached and send no Referer, and the
last redirect happens at once so the token leaves the address bar and the history.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from werkzeug.wrappers import Response as BaseResponse

from sso.base.redirects import safe_return_to
from sso.multipass import InvalidToken, ReplayStoreError

from . import multipass
from .accounts import account_for
from .db import db
from .matching import LoginRefused, identity_from_claims
from .models import Account

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

INVALID_LINK = "This sign-in link is invalid, expired or was already used."


def init_app(app: Flask) -> None:
    """Register flask-login and this blueprint on ``app``."""
    login_manager.init_app(app)
    app.register_blueprint(bp)


@login_manager.user_loader
def _load_user(user_id: str) -> Account | None:
    if not user_id.isdigit():
        return None
    account = db.session.get(Account, int(user_id))
    # A deactivated account loses its open sessions on the next request.
    return account if account is not None and account.active else None


@login_manager.unauthorized_handler
def _unauthorized() -> BaseResponse:
    """Send the visitor to /login, remembering the page asked for (as a relative path)."""
    wanted = request.path
    if request.query_string:
        wanted += "?" + request.query_string.decode("utf-8", "replace")
    return redirect(url_for("auth.login", return_to=wanted))


@bp.after_request
def _no_store(response: Response) -> Response:
    # Every response here may carry a token (in the request URL or the next Location).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _own_origins() -> list[str]:
    """The one origin a ``return_to`` may name in full: this app's, as the browser reached it."""
    return [request.host_url]


@bp.get("/login")
def login() -> BaseResponse | tuple[str, int]:
    """With ``?multipass=``: sign in with the token. Without: go to the hub's login."""
    if "multipass" in request.args:
        return _sign_in(request.args["multipass"])
    return_to = safe_return_to(request.args.get("return_to"), _own_origins()) or "/"
    if current_user.is_authenticated:
        return redirect(return_to)
    hub = current_app.config["HUB_URL"]
    slug = current_app.config["HUB_APP_SLUG"]
    query = urlencode({"login_url": url_for("auth.login", _external=True), "return_to": return_to})
    return redirect(f"{hub}/sso/multipass/{slug}?{query}")


# merge_slashes=False: a token in the standard base64 alphabet may hold "//", which
# Werkzeug would otherwise "fix" with a redirect that changes the token.
@bp.get("/login/multipass/<path:token>", merge_slashes=False)
def login_with_token(token: str) -> BaseResponse | tuple[str, int]:
    """The same sign-in, for hubs that put the token in the path."""
    return _sign_in(token)


def _sign_in(token: str) -> BaseResponse | tuple[str, int]:
    try:
        claims = multipass.verify(token)
    except ReplayStoreError:
        log.error("Multipass sign-in refused: the replay store is unavailable")
        return _page(
            503,
            "Sign-in is unavailable",
            "Invoicing cannot check sign-in links right now, so this one was not accepted.",
            "Try again in a minute.",
        )
    except InvalidToken:
        return _page(400, "Sign-in failed", INVALID_LINK, "Sign in again to get a fresh link.")
    try:
        account = account_for(identity_from_claims(claims))
    except LoginRefused as err:
        log.info("Multipass sign-in refused: %s", type(err).__name__)
        return _page(err.status, "Sign-in refused", err.message, err.fix)
    # Renew the session: nothing from before the login survives (session fixation).
    session.clear()
    login_user(account)
    target = safe_return_to(claims.get("return_to"), _own_origins()) or url_for("invoices.index")
    return redirect(target)


def _page(status: int, title: str, message: str, fix: str) -> tuple[str, int]:
    return (
        render_template("message.html", title=title, message=message, fix=fix, sign_in=True),
        status,
    )


@bp.post("/logout")
def logout() -> BaseResponse:
    """End this app's session (the hub's session is not touched). CSRF-checked form."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.signed_out"))


@bp.get("/signed-out")
def signed_out() -> str:
    """Where a local logout lands. Not a protected page, or the hub would sign the user back in."""
    return render_template("signed_out.html")


@bp.get("/logout/frontchannel")
def frontchannel_logout() -> Response:
    """End this app's session when the hub signs the user out.

    The hub's signed-out page loads this URL in an iframe (or img). The browser only
    sends our session cookie with that request if the cookie's SameSite rule allows it:
    with ``SameSite=Lax`` (our setting) it is sent when hub and app are the *same site*.
    Ports do not count, so 127.0.0.1:5000 and 127.0.0.1:5001 are the same site, and so are
    hub.example.com and invoices.example.com. Across registrable domains (crm.example vs
    invoices.example) the cookie would need ``SameSite=None; Secure`` and browsers that
    block third-party cookies drop it anyway; then only the short session lifetime helps.
    GET is acceptable here: the worst a forged request can do is sign the user out.
    """
    logout_user()
    session.clear()
    response = Response(
        "<!doctype html><title>Signed out</title><p>Signed out of Invoicing.</p>",
        mimetype="text/html",
    )
    hub = urlsplit(current_app.config["HUB_URL"])
    # Only the hub may frame this page.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; frame-ancestors {hub.scheme}://{hub.netloc}"
    )
    return response
