"""Helpdesk: the second reference app. It signs users in with OpenID Connect at the hub,
through authlib's Flask client, and imports nothing from the hub (any OIDC app would do).

* ``/login``: authorization code flow with PKCE S256 and a nonce (authlib does both).
* ``/callback``: the code is exchanged; authlib checks the ID token against the hub's JWKS.
* ``/logout``: RP-initiated logout at the hub (``id_token_hint``, registered
  ``post_logout_redirect_uri``, ``state``).
* ``/backchannel-logout``: the hub's logout token (Back-Channel Logout 1.0), checked with
  joserfc against the hub's JWKS; the session it names ends at the next request.

Configuration (environment): ``HELPDESK_HUB_URL`` (the issuer), ``HELPDESK_CLIENT_ID``,
``HELPDESK_CLIENT_SECRET``, ``HELPDESK_BASE_URL`` (its own address), ``HELPDESK_SECRET_KEY``,
``HELPDESK_DATA`` (a folder for its small SQLite file of ended sessions).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFProtect
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
SESSION_COOKIE_NAME = "helpdesk_session"
TICKETS = (
    ("HD-101", "Printer on floor 2 jams", "open"),
    ("HD-102", "VPN drops every hour", "waiting"),
    ("HD-103", "New laptop for Erin", "done"),
)


def _config(overrides: dict[str, Any] | None) -> dict[str, Any]:
    env = os.environ
    config = {
        "HUB_URL": env.get("HELPDESK_HUB_URL", "http://127.0.0.1:5000"),
        "CLIENT_ID": env.get("HELPDESK_CLIENT_ID", "helpdesk"),
        "CLIENT_SECRET": env.get("HELPDESK_CLIENT_SECRET", ""),
        "BASE_URL": env.get("HELPDESK_BASE_URL", "http://127.0.0.1:5002"),
        "SECRET_KEY": env.get("HELPDESK_SECRET_KEY") or secrets.token_urlsafe(32),
        "DATA": env.get("HELPDESK_DATA", str(Path.cwd() / "instance" / "helpdesk")),
    }
    config.update(overrides or {})
    return config


class EndedSessions:
    """The hub sessions (``sid``) the hub said have ended; shared by all workers (SQLite)."""

    def __init__(self, folder: str) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.path = str(Path(folder) / "ended_sessions.sqlite3")
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS ended (sid TEXT PRIMARY KEY, at REAL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5)

    def add(self, sid: str) -> None:
        with self._connect() as conn:
            conn.execute("INSERT OR IGNORE INTO ended (sid, at) VALUES (?, ?)", (sid, time.time()))

    def __contains__(self, sid: object) -> bool:
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM ended WHERE sid = ?", (sid,)).fetchone() is not None


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    config = _config(overrides)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config["SECRET_KEY"], SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        HELPDESK_CLIENT_ID=config["CLIENT_ID"], HELPDESK_CLIENT_SECRET=config["CLIENT_SECRET"] or None,
    )
    hub_url = config["HUB_URL"].rstrip("/")
    base_url = config["BASE_URL"].rstrip("/")
    ended = EndedSessions(config["DATA"])
    csrf = CSRFProtect(app)
    oauth = OAuth(app)
    hub = oauth.register(
        "hub",
        client_id=config["CLIENT_ID"],
        client_secret=config["CLIENT_SECRET"] or None,
        server_metadata_url=f"{hub_url}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256",
                       "token_endpoint_auth_method": "client_secret_basic" if config["CLIENT_SECRET"] else "none"},
    )

    @app.context_processor
    def _menu() -> dict[str, Any]:
        return {"hub_url": hub_url, "user": session.get("user")}

    @app.before_request
    def _drop_ended_session() -> None:
        user = session.get("user")
        if user and user.get("sid") in ended:
            session.clear()

    @app.get("/")
    def index() -> ResponseReturnValue:
        if not session.get("user"):
            return render_template("signed_out.html")
        return render_template("tickets.html", tickets=TICKETS)

    @app.get("/login")
    def login() -> ResponseReturnValue:
        return hub.authorize_redirect(f"{base_url}/callback")

    @app.get("/callback")
    def callback() -> ResponseReturnValue:
        if request.args.get("error"):
            return render_template("message.html", title="Not signed in",
                                   message=request.args.get("error_description") or request.args["error"]), 403
        token = hub.authorize_access_token()  # code + PKCE verifier; ID token checked (signature, nonce, aud, iss)
        claims = token["userinfo"]
        session.clear()
        session["user"] = {
            "sub": claims["sub"], "sid": claims.get("sid"), "name": claims.get("name"),
            "login": claims.get("preferred_username"), "email": claims.get("email"),
        }
        session["id_token"] = token["id_token"]
        return redirect(url_for("index"))

    @app.post("/logout")
    def logout() -> ResponseReturnValue:
        """RP-initiated logout: the hub ends its session and sends the browser back here."""
        id_token = session.get("id_token")
        session.clear()
        metadata = hub.load_server_metadata()
        state = secrets.token_urlsafe(12)
        session["logout_state"] = state
        params = {"post_logout_redirect_uri": f"{base_url}/signed-out", "state": state,
                  "client_id": config["CLIENT_ID"]}
        if id_token:
            params["id_token_hint"] = id_token
        from urllib.parse import urlencode

        return redirect(f"{metadata['end_session_endpoint']}?{urlencode(params)}")

    @app.get("/signed-out")
    def signed_out() -> ResponseReturnValue:
        expected = session.pop("logout_state", None)
        if not expected or request.args.get("state") != expected:
            return redirect(url_for("index"))
        return render_template("signed_out.html", logged_out=True)

    @app.post("/backchannel-logout")
    @csrf.exempt
    def backchannel_logout() -> ResponseReturnValue:
        """Back-Channel Logout 1.0: check the logout token, remember its sid as ended."""
        token = request.form.get("logout_token", "")
        metadata = hub.load_server_metadata()
        try:
            keys = KeySet.import_key_set(hub.fetch_jwk_set())
            decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
            claims = decoded.claims
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": metadata["issuer"]},
                aud={"essential": True, "value": config["CLIENT_ID"]},
                iat={"essential": True}, jti={"essential": True},
            ).validate(claims)
        except (JoseError, ValueError):
            abort(400)
        if decoded.header.get("typ") != "logout+jwt" or "nonce" in claims \
                or LOGOUT_EVENT not in (claims.get("events") or {}) or not claims.get("sid"):
            abort(400)
        ended.add(str(claims["sid"]))
        return "", 200, {"Cache-Control": "no-store"}

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return {"status": "ok"}

    return app
