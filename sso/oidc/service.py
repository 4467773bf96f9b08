"""OIDC use cases: register clients, consents, logins, back-channel logout.

Each validates, writes, records its audit event and commits once (``transaction()``).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from flask import Flask, current_app
from joserfc import jwt
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from sso.accounts.models import User
from sso.audit import record, record_anonymous
from sso.base import context
from sso.base.db import db, transaction
from sso.base.errors import NotFound, ValidationError
from sso.base.redirects import origin_of
from sso.connected_apps.models import ConnectedApp
from sso.connected_apps.secrets import check_pasted_secret, generate_secret
from sso.connected_apps.service import create_connected_app

from . import keys
from .models import OidcClient, OidcConsent, OidcLogin, OidcSubject, OidcToken
from .server import Client, Server, changed, token_hash

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = {"localhost"}
BACKCHANNEL_TIMEOUT = 3.0  # seconds per try
BACKCHANNEL_ATTEMPTS = 2
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def clean_uri(value: object, what: str) -> str:
    """An absolute https URI (http only on loopback), no fragment, no user info."""
    text = str(value or "").strip()
    try:
        parts = urlsplit(text)
    except ValueError as err:
        raise ValidationError(f"The {what} {text!r} is not a URL.") from err
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment or "@" in parts.netloc:
        raise ValidationError(f"The {what} must be an absolute https:// URL without a fragment, not {text!r}.")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValidationError(f"The {what} must use https:// (plain http only on 127.0.0.1 or localhost).")
    if len(text) > 2048 or any(ord(c) < 33 for c in text):
        raise ValidationError(f"The {what} is too long or contains spaces or control characters.")
    return text


def _uris(values: Iterable[str], what: str) -> list[str]:
    result: list[str] = []
    for value in values:
        uri = clean_uri(value, what)
        if uri not in result:
            result.append(uri)
    return result


def add_client(
    slug: str,
    name: str,
    redirect_uris: Iterable[str],
    *,
    post_logout_redirect_uris: Iterable[str] = (),
    backchannel_logout_uri: str | None = None,
    initiate_login_uri: str | None = None,
    public: bool = False,
    secret: str | None = None,
    first_party: bool = True,
    refresh_tokens: bool = False,
    id_token_alg: str = "RS256",
    actor: str | None = None,
    shown_in: str = "admin page",
) -> tuple[ConnectedApp, str | None]:
    """Register an OIDC client (a connected app with protocol ``oidc``).

    A confidential client gets ``secret`` (pasted) or a generated URL-safe one, stored as
    a SHA-256 hash only; the plain value is returned once (None for a public client).
    """
    redirects = _uris(redirect_uris, "redirect URI")
    if not redirects:
        raise ValidationError("Give at least one redirect URI.")
    post_logout = _uris(post_logout_redirect_uris, "post-logout redirect URI")
    backchannel = clean_uri(backchannel_logout_uri, "back-channel logout URI") if backchannel_logout_uri else None
    initiate = clean_uri(initiate_login_uri, "login start URI") if initiate_login_uri else None
    if id_token_alg not in keys.ALGORITHMS:
        raise ValidationError(f"The ID-token algorithm must be one of {', '.join(keys.ALGORITHMS)}.")
    if public and secret is not None:
        raise ValidationError("A public client has no secret.")
    plain = None if public else (check_pasted_secret(secret) if secret is not None else generate_secret())
    origins = sorted({o for o in (origin_of(u) for u in [*redirects, *post_logout]) if o})
    with transaction():
        app = create_connected_app(slug, name, "", origins, actor=actor, protocol="oidc")
        db.session.add(OidcClient(
            app_id=app.id, redirect_uris=redirects, post_logout_redirect_uris=post_logout,
            backchannel_logout_uri=backchannel, initiate_login_uri=initiate, public=public,
            secret_hash=token_hash(plain) if plain else None, first_party=first_party,
            refresh_tokens=refresh_tokens, id_token_alg=id_token_alg,
        ))
        record("oidc_client_created", app=app, actor=actor, detail={
            "redirect_uris": " ".join(redirects), "public": public, "first_party": first_party,
            "backchannel_logout": bool(backchannel), "refresh_tokens": refresh_tokens,
        })
        if plain is not None:
            record("secret_set", app=app, actor=actor, detail={"source": "pasted" if secret else "generated"})
            if secret is None:
                record("secret_revealed", app=app, actor=actor, detail={"where": shown_in})
        keys.ensure_keys()
    return app, plain


def get_client(slug: str) -> OidcClient:
    row = db.session.scalars(select(OidcClient).join(ConnectedApp).where(ConnectedApp.slug == slug)).first()
    if row is None:
        raise NotFound("No OpenID Connect app with this name.")
    return row


# -- consent -----------------------------------------------------------------------------


def needs_consent(user: User, client: Client, scope: str) -> bool:
    """True when the app is not first-party and the user has not agreed to these scopes."""
    if client.row.first_party:
        return False
    row = db.session.scalars(
        select(OidcConsent).where(OidcConsent.user_id == user.id, OidcConsent.client_id == client.row.id)
    ).first()
    return row is None or not set(scope.split()) <= set(row.scopes or [])


def grant_consent(user: User, client: Client, scope: str) -> None:
    """Remember that ``user`` lets the app have ``scope``; recorded ``oidc_consent_given``."""
    with transaction():
        row = db.session.scalars(
            select(OidcConsent).where(OidcConsent.user_id == user.id, OidcConsent.client_id == client.row.id)
        ).first()
        scopes = sorted(set(scope.split()) | set(row.scopes if row else []))
        if row is None:
            db.session.add(OidcConsent(user_id=user.id, client_id=client.row.id, scopes=scopes,
                                       granted_at=context.now()))
        else:
            row.scopes, row.granted_at = scopes, context.now()
        record("oidc_consent_given", user=user, app=client.client_id, detail={"scopes": " ".join(scopes)})


def consents(user: User) -> list[tuple[OidcConsent, ConnectedApp]]:
    rows = db.session.execute(
        select(OidcConsent, ConnectedApp).join(OidcClient, OidcConsent.client_id == OidcClient.id)
        .join(ConnectedApp, OidcClient.app_id == ConnectedApp.id).where(OidcConsent.user_id == user.id)
        .order_by(ConnectedApp.name)
    ).all()
    return [(c, a) for c, a in rows]


def revoke_consent(user: User, slug: str) -> None:
    """Forget the user's consent for the app and revoke the tokens it holds for them."""
    row = get_client(slug)
    with transaction():
        gone = changed(
            delete(OidcConsent).where(OidcConsent.user_id == user.id, OidcConsent.client_id == row.id)
        )
        if not gone:
            raise NotFound("You have not given this app access.")
        db.session.execute(
            update(OidcToken).where(OidcToken.user_id == user.id, OidcToken.client_id == row.id,
                                    OidcToken.revoked_at.is_(None)).values(revoked_at=context.now())
        )
        record("oidc_consent_revoked", user=user, app=row.app.slug)


# -- sign-in and logout -------------------------------------------------------------------


def note_login(user: User, client: Client, sid: str) -> None:
    """Remember that hub session ``sid`` signed ``user`` in to the app (for back-channel
    logout): one INSERT that does nothing when the row is already there."""
    values = {"user_id": user.id, "client_id": client.row.id, "sid": sid, "created_at": context.now()}
    dialect = db.session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        db.session.execute(insert(OidcLogin).values(**values).on_conflict_do_nothing(
            index_elements=["user_id", "client_id", "sid"]))
        return
    exists = db.session.scalars(select(OidcLogin.id).where(
        OidcLogin.user_id == user.id, OidcLogin.client_id == client.row.id, OidcLogin.sid == sid)).first()
    if exists is None:
        with db.session.begin_nested():
            db.session.add(OidcLogin(**values))


def refused(user: User | None, endpoint: str, *, app: str | None = None, detail: dict[str, Any]) -> None:
    """A sign-in or logout request the provider refused: ``oidc_refused`` in the audit log.

    One row each for a signed-in user. A visitor who is not signed in is refused before
    any login, so anyone can cause it: through :func:`sso.audit.record_anonymous`, at most
    one row per client IP and ``endpoint`` a minute per worker."""
    if user is None:
        record_anonymous("oidc_refused", key=endpoint, app=app, detail=detail)
    else:
        record("oidc_refused", user=user, app=app, detail=detail)


def issue_code(srv: Server, grant: Any, user: User, client: Client, sid: str, scope: str) -> Any:
    """The authorization use case: Authlib's answer to ``grant`` and, when it carries a code,
    the login noted for back-channel logout and ``oidc_authorize`` recorded, in one commit."""
    with transaction():
        response = srv.create_authorization_response(grant=grant, grant_user=user)
        if response.status_code == 302 and "code=" in (response.headers.get("Location") or ""):
            note_login(user, client, sid)
            record("oidc_authorize", user=user, app=client.client_id, detail={"scope": scope})
    return response


def endpoint_response(srv: Server, endpoint: str | None = None) -> Any:
    """The token endpoint (``endpoint`` None: code and refresh-token grants) or another of
    Authlib's endpoints (``"revocation"``), in one commit, also for refusals that revoke (replays)."""
    with transaction():
        return srv.create_token_response() if endpoint is None else srv.create_endpoint_response(endpoint)


def logout_token(client: OidcClient, sub: str, sid: str, iss: str) -> str:
    """A Back-Channel Logout 1.0 logout token, signed like the client's ID tokens."""
    alg = client.id_token_alg
    kid, key = keys.signing_key(alg)
    now = int(context.now().timestamp())
    claims = {"iss": iss, "aud": client.app.slug, "iat": now, "exp": now + 120, "jti": secrets.token_urlsafe(16),
              "sub": sub, "sid": sid, "events": {LOGOUT_EVENT: {}}}
    return jwt.encode({"alg": alg, "kid": kid, "typ": "logout+jwt"}, claims, key, algorithms=[alg])


def _issuer_for_signal() -> str:
    base = current_app.config.get("BASE_URL")
    if base:
        return str(base).rstrip("/")
    from flask import has_request_context, request

    return request.url_root.rstrip("/") if has_request_context() else ""


def sid_for(session_id: str) -> str:
    """The ``sid`` apps see for a hub session: derived from the session's id (so a logout of
    that session finds its apps), and revealing nothing of it."""
    digest = hashlib.sha256(b"sso-oidc-sid\x00" + session_id.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def end_sessions(user: User, reason: str, session_id: str | None = None) -> list[tuple[str, bool]]:
    """Hub sessions of ``user`` ended (``session_id``, or all of them when None): revoke
    the tokens issued from them (every token of the user when deactivated) and tell each
    app signed in from them that has a back-channel logout URI. Returns (app slug,
    delivered) pairs; audited per app."""
    iss = _issuer_for_signal()
    query = (select(OidcLogin, OidcClient).join(OidcClient, OidcLogin.client_id == OidcClient.id)
             .where(OidcLogin.user_id == user.id))
    if session_id is not None:
        query = query.where(OidcLogin.sid == sid_for(session_id))
    rows = db.session.execute(query).all()
    messages: list[tuple[OidcClient, str]] = []
    with transaction():
        for login, client in rows:
            if client.backchannel_logout_uri:
                sub = db.session.scalars(select(OidcSubject.sub).where(
                    OidcSubject.user_id == user.id, OidcSubject.client_id == client.id)).first()
                if sub:
                    messages.append((client, logout_token(client, sub, login.sid, iss)))
        stmt = update(OidcToken).where(OidcToken.user_id == user.id, OidcToken.revoked_at.is_(None))
        if reason != "deactivated":
            stmt = stmt.where(OidcToken.sid.in_([login.sid for login, _ in rows] or [""]))
        db.session.execute(stmt.values(revoked_at=context.now()))
        db.session.execute(delete(OidcLogin).where(OidcLogin.id.in_([login.id for login, _ in rows] or [-1])))
    delivered = _deliver_all([(client.backchannel_logout_uri or "", client.app.slug, token)
                              for client, token in messages])
    results = []
    for (client, _token), ok in zip(messages, delivered, strict=True):
        record("oidc_backchannel_logout", user=user, app=client.app.slug, detail={"delivered": ok, "reason": reason})
        results.append((client.app.slug, ok))
    return results


def _deliver_all(messages: list[tuple[str, str, str]]) -> list[bool]:
    """POST each logout token to its app, all at once (one slow app does not hold up the
    others); each gets BACKCHANNEL_ATTEMPTS tries within BACKCHANNEL_TIMEOUT seconds each."""
    if not messages:
        return []
    if len(messages) == 1:
        return [_post_logout(*messages[0])]
    with ThreadPoolExecutor(max_workers=min(8, len(messages))) as pool:
        return list(pool.map(lambda message: _post_logout(*message), messages))


def _post_logout(uri: str, slug: str, token: str) -> bool:
    """Back-Channel Logout 1.0 section 2.5: 200 (or 204) is success. A connection error, a
    timeout or a 5xx is tried again once; a 4xx (the app refused the token) is not."""
    for attempt in range(1, BACKCHANNEL_ATTEMPTS + 1):
        try:
            response = httpx.post(uri, data={"logout_token": token}, timeout=BACKCHANNEL_TIMEOUT,
                                  headers={"Cache-Control": "no-store"})
        except httpx.HTTPError as err:
            log.warning("back-channel logout to %s failed (try %d): %s", slug, attempt, type(err).__name__)
            continue
        if response.status_code in (200, 204):
            return True
        log.warning("back-channel logout to %s answered %d (try %d)", slug, response.status_code, attempt)
        if response.status_code < 500:
            return False
    return False


def on_sessions_ended(sender: Flask, user: Any = None, reason: str = "logout", session_id: str | None = None,
                      **_: Any) -> None:
    """Receiver of :data:`sso.base.signals.sessions_ended`."""
    if user is not None and "oidc.server" in context.hub_state(sender).features:
        end_sessions(user, reason, session_id)


def key_lifetime() -> timedelta:
    return timedelta(seconds=int(current_app.config["OIDC_ID_TOKEN_LIFETIME"]))


def update_client(
    row: OidcClient, *, name: str, redirect_uris: Iterable[str], post_logout_redirect_uris: Iterable[str] = (),
    backchannel_logout_uri: str | None = None, initiate_login_uri: str | None = None, first_party: bool = True,
    refresh_tokens: bool = False, id_token_alg: str = "RS256", enabled: bool = True, actor: str | None = None,
) -> None:
    """Change an OIDC app's settings (public/confidential stays as registered); ``oidc_client_changed``."""
    from sso.connected_apps.service import clean_name

    redirects = _uris(redirect_uris, "redirect URI")
    if not redirects:
        raise ValidationError("Give at least one redirect URI.")
    post_logout = _uris(post_logout_redirect_uris, "post-logout redirect URI")
    backchannel = clean_uri(backchannel_logout_uri, "back-channel logout URI") if backchannel_logout_uri else None
    initiate = clean_uri(initiate_login_uri, "login start URI") if initiate_login_uri else None
    if id_token_alg not in keys.ALGORITHMS:
        raise ValidationError(f"The ID-token algorithm must be one of {', '.join(keys.ALGORITHMS)}.")
    with transaction():
        row.app.name, row.app.enabled = clean_name(name), enabled
        row.app.allowed_origins = sorted({o for o in (origin_of(u) for u in [*redirects, *post_logout]) if o})
        row.redirect_uris, row.post_logout_redirect_uris = redirects, post_logout
        row.backchannel_logout_uri, row.initiate_login_uri = backchannel, initiate
        row.first_party, row.refresh_tokens, row.id_token_alg = first_party, refresh_tokens, id_token_alg
        record("oidc_client_changed", app=row.app, actor=actor, detail={
            "redirect_uris": " ".join(redirects), "first_party": first_party, "refresh_tokens": refresh_tokens,
            "backchannel_logout": bool(backchannel), "id_token_alg": id_token_alg, "enabled": enabled,
        })


def new_client_secret(row: OidcClient, *, actor: str | None = None, shown_in: str = "admin page") -> str:
    """A new generated secret for a confidential client; the old one stops working at once."""
    if row.public:
        raise ValidationError("A public client has no secret.")
    plain = generate_secret()
    with transaction():
        row.secret_hash = token_hash(plain)
        record("secret_rotated", app=row.app, actor=actor, detail={"source": "generated"})
        record("secret_revealed", app=row.app, actor=actor, detail={"where": shown_in})
    return plain
