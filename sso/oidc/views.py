"""The provider's endpoints: discovery, JWKS, authorize (+ consent), token, userinfo,
revocation, RP-initiated logout; and the user's page of apps they allowed."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.errors import AccessDeniedError
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm

from sso.accounts.login_steps import current_session_id
from sso.accounts.service import log_out
from sso.base import context
from sso.base.errors import HubError

from . import hooks, keys, server
from .server import Client
from .service import (
    consents,
    endpoint_response,
    grant_consent,
    issue_code,
    needs_consent,
    refused,
    revoke_consent,
    sid_for,
)

bp = Blueprint("oidc", __name__)

SCOPE_WORDS = {
    "openid": "know who you are (a stable id for you at this app)",
    "profile": "see your name and login",
    "email": "see your e-mail address",
    "groups": "see the names of your groups",
}


class DecisionForm(FlaskForm):
    """Allow / deny buttons (CSRF token only)."""


def _server() -> server.Server:
    return context.hub_state().features["oidc.server"]


def _protector() -> server.Protector:
    return context.hub_state().features["oidc.protector"]


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _with_iss(response: Response) -> Response:
    """RFC 9207: ``iss`` in every authorization response sent back to the app."""
    location = response.headers.get("Location")
    if location and "iss=" not in location.split("?", 1)[-1]:
        from authlib.common.urls import add_params_to_uri

        response.headers["Location"] = add_params_to_uri(location, [("iss", server.issuer())])
    return _no_store(response)


#: Endpoints a browser app (a public client: a single-page app) calls with fetch(): CORS for
#: the origins of the OIDC apps' registered URIs, without credentials (no cookie is involved).
_CORS_ENDPOINTS = frozenset({"oidc.token", "oidc.userinfo", "oidc.revoke"})


@bp.after_request
def _cors(response: Response) -> Response:
    origin = request.headers.get("Origin")
    if request.endpoint not in _CORS_ENDPOINTS or not origin:
        return response
    response.vary.add("Origin")
    if origin not in server.app_origins():
        return response  # the browser refuses to hand the answer to that page
    response.headers["Access-Control-Allow-Origin"] = origin
    if request.method == "OPTIONS":  # the preflight
        methods = "GET, POST" if request.endpoint == "oidc.userinfo" else "POST"
        response.headers["Access-Control-Allow-Methods"] = methods
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    else:
        response.headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"
    return response


def _page(status: int, title: str, message: str) -> ResponseReturnValue:
    return render_template("error.html", status=status, title=title, message=message), status


@bp.get("/.well-known/openid-configuration")
def discovery() -> ResponseReturnValue:
    response = jsonify(server.metadata())
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/oidc/jwks")
def jwks() -> ResponseReturnValue:
    response = jsonify(keys.public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _login_redirect(*, again: bool = False) -> ResponseReturnValue:
    """To the login page, then back to this authorization request. A fresh login answers
    ``prompt=login`` and ``max_age``, so the way back leaves them out (else it would loop);
    ``again`` shows the form to a user who is signed in already (re-authentication)."""
    args: list[tuple[str, str]] = []
    for key, raw in request.values.items(multi=True):
        value = str(raw)
        if key == "prompt":
            value = " ".join(p for p in value.split() if p != "login")
        if value and key not in ("max_age", "csrf_token", "decision"):
            args.append((key, value))
    back = url_for("oidc.authorize") + "?" + urlencode(args)
    if again:
        return redirect(url_for("accounts.login", next=back, again="1"))
    return redirect(url_for("accounts.login", next=back))


def _max_age(value: str | None) -> int | None:
    """``max_age`` (seconds, OpenID Connect Core 3.1.2.1), or None; anything else is refused."""
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise InvalidRequestError("'max_age' must be a number of seconds.")
    return int(value)


@bp.route("/oidc/authorize", methods=["GET", "POST"])
def authorize() -> ResponseReturnValue:
    """Check the request, the user and the app; ask consent when needed; issue a code."""
    user = current_user._get_current_object()
    end_user = user if user.is_authenticated else None
    srv = _server()
    try:
        grant = srv.get_consent_grant(end_user=end_user)
    except OAuth2Error as err:
        refused(end_user, "authorize", app=(request.values.get("client_id") or "")[:64] or None,
                detail={"error": err.error, "description": err.description})
        if err.redirect_uri:  # the request named a registered redirect URI: tell the app
            return _with_iss(srv.handle_error_response(None, err))
        return _page(400, "Sign-in request refused",
                     f"The app sent a sign-in request the hub cannot accept: {err.description or err.error}.")
    client: Client = grant.request.client
    prompts = (grant.request.payload.data.get("prompt") or "").split()
    try:
        max_age = _max_age(grant.request.payload.data.get("max_age"))
    except InvalidRequestError as err:
        err.redirect_uri, err.state = grant.redirect_uri, grant.request.payload.state
        refused(end_user, "authorize", app=client.client_id, detail={"error": err.error})
        return _with_iss(srv.handle_error_response(None, err))
    if end_user is None:
        return _login_redirect()
    auth_time = int(session.get("oidc_auth_time") or 0)
    stale = max_age is not None and int(context.now().timestamp()) - auth_time > max_age
    if "login" in prompts or stale:  # the app wants a fresh login (prompt=login, max_age)
        if "none" in prompts:  # ... and no page may be shown: tell the app
            error = LoginRequiredError(redirect_uri=grant.redirect_uri)
            error.state = grant.request.payload.state
            return _with_iss(srv.handle_error_response(None, error))
        return _login_redirect(again=True)
    if not hooks.may_open(end_user, client.app):
        refused(end_user, "authorize", app=client.client_id, detail={"error": "access_denied"})
        error = AccessDeniedError(description="You do not have access to this app.", redirect_uri=grant.redirect_uri)
        error.state = grant.request.payload.state
        return _with_iss(srv.handle_error_response(None, error))
    scope = grant.request.scope or ""
    ask = needs_consent(end_user, client, scope) or "consent" in prompts
    if ask and "none" in prompts:
        error = ConsentRequiredError(redirect_uri=grant.redirect_uri)
        error.state = grant.request.payload.state
        return _with_iss(srv.handle_error_response(None, error))
    if ask:
        form = DecisionForm()  # only here: building it makes a CSRF token
        if request.method != "POST" or "decision" not in request.form:
            words = [SCOPE_WORDS[s] for s in scope.split() if s in SCOPE_WORDS]
            return _no_store(current_app.make_response(render_template(
                "oidc/consent.html", form=form, app=client.app, words=words)))
        if not form.validate_on_submit():
            return _page(400, "Form out of date", "The form was out of date. Go back to the app and try again.")
        if request.form.get("decision") != "allow":
            refused(end_user, "authorize", app=client.client_id, detail={"error": "consent denied"})
            error = AccessDeniedError(description="The user did not allow access.", redirect_uri=grant.redirect_uri)
            error.state = grant.request.payload.state
            return _with_iss(srv.handle_error_response(None, error))
        grant_consent(end_user, client, scope)
    hub_session = current_session_id()
    g.oidc_sid = sid_for(hub_session) if hub_session else session.setdefault("oidc_sid", secrets.token_urlsafe(16))
    g.oidc_auth_time = int(session.get("oidc_auth_time") or context.now().timestamp())
    return _with_iss(issue_code(srv, grant, end_user, client, g.oidc_sid, scope))


@bp.post("/oidc/token")
def token() -> ResponseReturnValue:
    """Code and refresh-token grants; one commit, also for refusals that revoke (replays)."""
    return _no_store(endpoint_response(_server()))


@bp.route("/oidc/userinfo", methods=["GET", "POST"])
def userinfo() -> ResponseReturnValue:
    """Claims for a valid access token (header, or form body on POST)."""
    try:
        tok: server.Token = _protector().acquire_token(["openid"])
    except OAuth2Error as err:
        response = jsonify(dict(err.get_body()))
        response.status_code = err.status_code
        for name, value in err.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return _no_store(response)
    user = tok.get_user()
    client = tok.get_client()
    if user is None or not user.active or client is None or not client.app.enabled:
        response = jsonify(error="invalid_token", error_description="The user or the app is disabled.")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return _no_store(response)
    return _no_store(jsonify(server.user_claims(user, client, tok.get_scope())))


@bp.post("/oidc/revoke")
def revoke() -> ResponseReturnValue:
    return _no_store(endpoint_response(_server(), "revocation"))


@bp.route("/oidc/logout", methods=["GET", "POST"])
def end_session() -> ResponseReturnValue:
    """RP-initiated logout: with a valid ``id_token_hint`` for the signed-in user, the hub
    session ends at once; otherwise the user confirms. Only registered post-logout URIs."""
    srv = _server()
    try:
        req = srv.validate_endpoint_request("end_session")
    except OAuth2Error as err:
        viewer = current_user._get_current_object()
        refused(viewer if viewer.is_authenticated else None, "end_session",
                detail={"error": err.error, "endpoint": "end_session"})
        return _page(400, "Logout request refused",
                     f"The app sent a logout request the hub cannot accept: {err.description or err.error}.")
    wanted = request.values.get("post_logout_redirect_uri")
    if wanted and req.redirect_uri is None:
        return _page(400, "Logout request refused",
                     "The address the app wants to return to after logout is not registered for it.")
    user = current_user._get_current_object()
    hinted = _hinted_user(req)
    confirmed = request.method == "POST" and DecisionForm().validate_on_submit()
    if user.is_authenticated and not confirmed and (hinted is None or hinted.id != user.id):
        return render_template("oidc/logout.html", form=DecisionForm(), app=req.client.app if req.client else None)
    if user.is_authenticated:
        log_out(user, current_session_id())  # this browser's session; the user's others stay
        logout_user()
        session.clear()
    srv.create_endpoint_response("end_session", req)
    if req.redirect_uri:
        return redirect(req.redirect_uri)
    return render_template("oidc/logged_out.html")


def _hinted_user(req: Any) -> Any:
    claims = req.id_token_claims
    if not claims or req.client is None:
        return None
    return server.user_by_subject(str(claims.get("sub", "")), req.client)


@bp.get("/oidc/start/<slug>")
def start(slug: str) -> ResponseReturnValue:
    """The top-menu button of an OIDC app: go to the app's own login start."""
    client = server.query_client(slug)
    if client is None:
        raise HubError("This app is not available.", title="App unavailable")
    target = client.row.initiate_login_uri or client.row.redirect_uris[0]
    if not client.row.initiate_login_uri:
        from sso.base.redirects import origin_of

        target = (origin_of(target) or target) + "/"
    return redirect(target)


@bp.get("/account/apps")
@login_required
def my_apps() -> ResponseReturnValue:
    """The apps the user allowed (third-party apps), with a button to take access back."""
    rows = [(app, [SCOPE_WORDS[s] for s in consent.scopes if s in SCOPE_WORDS])
            for consent, app in consents(current_user)]
    return render_template("oidc/my_apps.html", rows=rows, form=DecisionForm())


@bp.post("/account/apps/<slug>/revoke")
@login_required
def revoke_my_app(slug: str) -> ResponseReturnValue:
    form = DecisionForm()
    if not form.validate_on_submit():
        return _page(400, "Form out of date", "The form was out of date. Reload the page and try again.")
    revoke_consent(current_user._get_current_object(), slug)
    return redirect(url_for("oidc.my_apps"))


