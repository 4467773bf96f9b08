"""Sign-in through the hub (Multipass), sign-out, and the hub's front-channel logout.

The flow, as a connected app sees it::

    browser -> GET /invoices                  (not signed in)
            -> 302 /login?return_to=/invoices
            -> 302 {HUB}/sso/multipass/{slug}?login_url={this app}/login&return_to=/invoices
            ... the user signs in at the hub (or already is) ...
            -> 302 {this app}/login?multipass=<token>      (or /login/multipass/<token>)
            -> 302 /invoices                  (token checked, used up, session renewed)

Responses that carry or consume a token are never cached and send no Referer, and the
last redirect happens at once so the token leaves the address bar and the history. A
``multipass`` parameter is never carried along into ``return_to``.

**Switching accounts (login CSRF).** A valid token for user B that arrives while user A is
signed in does not replace A's session silently: anyone can make a browser open a link, so
an attacker could otherwise sign a victim into the attacker's account. The token is used up
and its checked claims are kept server-side for :data:`PENDING_MAX_AGE` seconds under a
random key held in this browser's session; the page asks "Continue as B?" and only a POST
of that page's form (CSRF-protected) signs B in.

**Sessions end for good.** The session cookie holds ``"<account id>.<session nonce>"``; the
nonce is stored with the account and changes on logout, on the hub's front-channel logout
and on deactivation, so every copy of the cookie stops working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from werkzeug.wrappers import Response as BaseResponse

from sso.base.identity import normalize_key
from sso.base.redirects import safe_return_to
from sso.multipass import InvalidToken, ReplayStoreError

from . import multipass
from .accounts import account_for
from .db import db
from .matching import Identity, LoginRefused, identity_from_claims
from .models import Account, PendingSignIn

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

INVALID_LINK = "This sign-in link is invalid, expired or was already used."
#: How long a "Continue as B?" question can be answered, in seconds.
PENDING_MAX_AGE = 300
_PENDING_KEY = "pending_sign_in"
#: Query parameters that carry a sign-in token and must never travel on in a return_to.
TOKEN_PARAMETERS = frozenset({"multipass"})


def init_app(app: Flask) -> None:
    """Register flask-login and this blueprint on ``app``."""
    login_manager.init_app(app)
    app.register_blueprint(bp)


@login_manager.user_loader
def _load_user(session_id: str) -> Account | None:
    """The account of a session cookie, if its nonce is still the account's and it is active."""
    account_id, _, nonce = session_id.partition(".")
    if not account_id.isdigit() or len(account_id) > 18 or not nonce:
        return None
    account = db.session.get(Account, int(account_id))
    if account is None or not account.is_active:
        return None
    if not hmac.compare_digest(nonce.encode(), account.session_nonce.encode()):
        return None  # the account signed out (or was deactivated) since this cookie was made
    return account


@login_manager.unauthorized_handler
def _unauthorized() -> BaseResponse:
    """Send the visitor to /login, remembering the page asked for (as a relative path)."""
    wanted = request.path
    if request.query_string:
        wanted += "?" + request.query_string.decode("utf-8", "replace")
    return redirect(url_for("auth.login", return_to=without_tokens(wanted)))


def without_tokens(target: str) -> str:
    """``target`` without any sign-in token: no ``multipass`` parameter, no sign-in path.

    A token in a ``return_to`` would travel to the hub and back, into logs and histories.
    """
    parts = urlsplit(target)
    if parts.path == "/login" or parts.path.startswith("/login/"):
        return "/"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if k.lower() not in TOKEN_PARAMETERS]
    if len(kept) == len(pairs):
        return target
    return urlunsplit(parts._replace(query=urlencode(kept)))


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
    return_to = without_tokens(safe_return_to(request.args.get("return_to"), _own_origins()) or "/")
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
        identity = identity_from_claims(claims)
    except LoginRefused as err:
        log.info("Multipass sign-in refused: %s", type(err).__name__)
        return _refused(err)
    if current_user.is_authenticated and current_user.login_key != normalize_key(identity.login):
        return _ask_before_switching(identity, claims.get("return_to"))
    return _complete_sign_in(identity, claims.get("return_to"))


def _complete_sign_in(identity: Identity, return_to: object) -> BaseResponse | tuple[str, int]:
    try:
        account = account_for(identity)
    except LoginRefused as err:
        log.info("Multipass sign-in refused: %s", type(err).__name__)
        return _refused(err)
    # Renew the session: nothing from before the login survives (session fixation).
    session.clear()
    login_user(account)
    wanted = safe_return_to(return_to if isinstance(return_to, str) else None, _own_origins())
    return redirect(without_tokens(wanted) if wanted else url_for("invoices.index"))


def _pending_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _ask_before_switching(identity: Identity, return_to: object) -> tuple[str, int]:
    """Keep the checked claims for a few minutes and ask the signed-in user to confirm."""
    now = datetime.now(UTC)
    key = secrets.token_urlsafe(32)
    stored = {"login": identity.login, "email": identity.email, "name": identity.name,
              "return_to": return_to if isinstance(return_to, str) else None}
    db.session.execute(
        sa.delete(PendingSignIn).where(PendingSignIn.created_at < now - timedelta(seconds=PENDING_MAX_AGE))
    )
    previous = session.get(_PENDING_KEY)
    if isinstance(previous, str):  # only the latest question of this browser can be answered
        db.session.execute(sa.delete(PendingSignIn).where(PendingSignIn.key_hash == _pending_hash(previous)))
    db.session.add(PendingSignIn(key_hash=_pending_hash(key), claims=json.dumps(stored), created_at=now))
    db.session.commit()
    session[_PENDING_KEY] = key
    return render_template(
        "switch_account.html", current=current_user, new=identity, max_age=PENDING_MAX_AGE
    ), 200


def _take_pending() -> dict[str, Any] | None:
    """The claims this browser's question was about, used up; None if none or expired."""
    key = session.pop(_PENDING_KEY, None)
    if not isinstance(key, str):
        return None
    row = db.session.get(PendingSignIn, _pending_hash(key))
    if row is None:
        return None
    db.session.delete(row)
    db.session.commit()
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    if datetime.now(UTC) - created > timedelta(seconds=PENDING_MAX_AGE):
        return None
    claims: dict[str, Any] = json.loads(row.claims)
    return claims


@bp.post("/login/switch")
def confirm_switch() -> BaseResponse | tuple[str, int]:
    """The user said yes: sign in as the account of the pending sign-in. CSRF-checked form."""
    pending = _take_pending()
    if pending is None:
        return _page(
            400, "Sign-in expired", "This question has expired or was already answered.",
            "Sign in again to get a fresh link.",
        )
    identity = Identity(login=pending["login"], email=pending["email"], name=pending["name"])
    return _complete_sign_in(identity, pending.get("return_to"))


@bp.post("/login/switch/cancel")
def cancel_switch() -> BaseResponse:
    """The user said no: forget the pending sign-in and stay who they are. CSRF-checked form."""
    _take_pending()
    return redirect(url_for("invoices.index"))


def _end_all_sessions() -> None:
    if current_user.is_authenticated:
        account: Account = current_user._get_current_object()
        account.end_sessions()
        db.session.commit()
    logout_user()
    session.clear()


def _page(status: int, title: str, message: str, fix: str) -> tuple[str, int]:
    """A failure a new sign-in can cure (an expired link, a store that was down): offer one."""
    return (
        render_template("message.html", title=title, message=message, fix=fix, sign_in=True),
        status,
    )


def _refused(err: LoginRefused) -> tuple[str, int]:
    """A refusal that signing in again would only repeat: the way out is the hub's start page."""
    return (
        render_template("message.html", title="Sign-in refused", message=err.message, fix=err.fix,
                        detail=err.detail, sign_in=False),
        err.status,
    )


@bp.post("/logout")
def logout() -> BaseResponse:
    """End this app's sessions (the hub's session is not touched). CSRF-checked form.

    Every session of the account ends, in this browser and in any other (the nonce changes).
    """
    _end_all_sessions()
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
    Like the app's own logout, it ends every session of the account (the nonce changes).
    """
    _end_all_sessions()
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
