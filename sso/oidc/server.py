"""authlib's server parts, configured for the hub, with the gaps the issue names closed.

* ``redirect_uri`` is required at the authorization endpoint and matched exactly (authlib
  falls back to the first registered URI when it is missing).
* PKCE with ``S256`` is required for every client, confidential ones included (authlib's
  ``CodeChallenge`` requires it only for public clients and accepts ``plain``).
* A code is consumed atomically (``UPDATE ... WHERE used_at IS NULL``): of two concurrent
  redemptions exactly one wins, and a replayed code revokes the tokens issued from it.
* Refresh tokens rotate; a rotated one used again revokes its whole family.
* ID tokens carry ``kid``, the original ``auth_time`` (also when refreshed), ``nonce``,
  ``at_hash`` and ``sid``; time comes from the hub's clock.
* The authorization response carries ``iss`` (RFC 9207).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken
from authlib.oidc.core.util import create_half_hash
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import Flask, current_app, g, request, url_for
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import CursorResult, Executable, insert, select, update

from sso.accounts.models import User
from sso.audit import record
from sso.base import context
from sso.base.db import db
from sso.connected_apps.models import ConnectedApp
from sso.flows.multipass import split_name

from . import clients, hooks, keys
from .models import OidcClient, OidcCode, OidcSubject, OidcToken

SCOPES = ("openid", "profile", "email", "groups")
CODE_LIFETIME = 60  # seconds


def token_hash(value: str) -> str:
    """How tokens, codes and client secrets are stored: SHA-256, hex (they are random, 256 bits)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def issuer() -> str:
    """``SSO_BASE_URL``, else the URL the request came to (loopback demos and tests)."""
    base = current_app.config.get("BASE_URL")
    return str(base).rstrip("/") if base else request.url_root.rstrip("/")


def _ts(value: Any) -> int:
    return int(value.timestamp())


def changed(statement: Executable) -> int:
    """Run an UPDATE or DELETE; how many rows it changed (the atomic test-and-set)."""
    result = cast(CursorResult[Any], db.session.execute(statement))
    return int(result.rowcount)


def now_ts() -> int:
    return int(context.now().timestamp())


# -- the client ------------------------------------------------------------------------


@dataclass(frozen=True)
class AppView:
    """The connected app behind a client, as the provider reads it (a detached copy)."""

    id: int
    slug: str
    name: str
    enabled: bool


@dataclass(frozen=True)
class ClientSettings:
    """An OIDC client's settings, copied from its row so a worker can keep them across
    requests (see :func:`query_client`); field names are the row's."""

    id: int
    app_id: int
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    backchannel_logout_uri: str | None
    initiate_login_uri: str | None
    public: bool
    secret_hash: str | None
    first_party: bool
    refresh_tokens: bool
    id_token_alg: str
    created_at: Any

    @classmethod
    def of(cls, row: OidcClient) -> ClientSettings:
        return cls(
            id=row.id, app_id=row.app_id, redirect_uris=tuple(row.redirect_uris or ()),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris or ()),
            backchannel_logout_uri=row.backchannel_logout_uri, initiate_login_uri=row.initiate_login_uri,
            public=bool(row.public), secret_hash=row.secret_hash, first_party=bool(row.first_party),
            refresh_tokens=bool(row.refresh_tokens), id_token_alg=row.id_token_alg, created_at=row.created_at,
        )


class Client(ClientMixin):
    """A connected app with protocol ``oidc``, as authlib sees it."""

    def __init__(self, row: ClientSettings, app: AppView) -> None:
        self.row = row
        self.app = app
        self.client_id = app.slug
        self.id_token_signed_response_alg = row.id_token_alg
        self.client_metadata = {"post_logout_redirect_uris": list(row.post_logout_redirect_uris)}

    @classmethod
    def of(cls, row: OidcClient) -> Client:
        return cls(ClientSettings.of(row), AppView(row.app.id, row.app.slug, row.app.name, bool(row.app.enabled)))

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # never: redirect_uri is required

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        wanted = scope.split()
        return " ".join(s for s in dict.fromkeys(wanted) if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris  # exact string match

    def check_client_secret(self, client_secret: str) -> bool:
        if self.row.public or not self.row.secret_hash:
            return False
        return hmac.compare_digest(token_hash(client_secret), self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.row.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "refresh_token":
            return bool(self.row.refresh_tokens)
        return grant_type == "authorization_code"


def query_client(client_id: str | None) -> Client | None:
    """The enabled OIDC client ``client_id`` (a slug), or None.

    Kept per worker for ``APP_CACHE_TTL`` seconds by the app's clock, like the Multipass
    apps (:mod:`.clients`): a change made in this worker drops it at once, other workers
    follow within the TTL (at most 2 s)."""
    if not client_id or len(client_id) > 64:
        return None
    return clients.by_slug(client_id, _load_client)


def client_by_id(client_pk: int) -> Client | None:
    """The enabled OIDC client with row id ``client_pk`` (a token's client), or None."""
    return clients.by_id(client_pk, _load_client_by_id)


def _load_client(client_id: str) -> Client | None:
    row = db.session.scalars(
        select(OidcClient).join(ConnectedApp).where(ConnectedApp.slug == client_id, ConnectedApp.protocol == "oidc")
    ).first()
    return Client.of(row) if row is not None and row.app.enabled else None


def app_origins() -> frozenset[str]:
    """Origins of every enabled OIDC app's redirect and post-logout URIs (cached per worker)."""

    def load() -> frozenset[str]:
        rows = db.session.scalars(select(ConnectedApp.allowed_origins).where(
            ConnectedApp.protocol == "oidc", ConnectedApp.enabled.is_(True)))
        return frozenset(origin for origins in rows for origin in (origins or ()))

    return clients.app_origins(load)


def _load_client_by_id(client_pk: int) -> Client | None:
    row = db.session.get(OidcClient, client_pk)
    return Client.of(row) if row is not None and row.app.enabled else None


def subject(user_id: int, client: Client) -> str:
    """The pairwise ``sub`` of the user at the client, created on first use (kept per worker)."""

    def load() -> str:
        sub = db.session.scalars(
            select(OidcSubject.sub).where(OidcSubject.user_id == user_id, OidcSubject.client_id == client.row.id)
        ).first()
        if sub is None:
            sub = secrets.token_urlsafe(24)
            with db.session.begin_nested():
                db.session.add(OidcSubject(user_id=user_id, client_id=client.row.id, sub=sub))
        return sub

    return clients.subject(user_id, client, load)


def user_by_subject(sub: str, client: Client) -> User | None:
    row = db.session.scalars(
        select(OidcSubject).where(OidcSubject.sub == sub, OidcSubject.client_id == client.row.id)
    ).first()
    return db.session.get(User, row.user_id) if row else None


def user_claims(user: User, client: Client, scope: str) -> dict[str, Any]:
    """The claims the scope allows: ``sub`` always, then profile, email, groups."""
    first, last = split_name(user.name)
    info = UserInfo(
        sub=subject(user.id, client), name=user.display_name, preferred_username=user.login,
        email=user.email, email_verified=True,
    )
    if first and last:
        info["given_name"], info["family_name"] = first, last
    claims = dict(info.filter(scope))
    if "groups" in scope.split():  # authlib's filter knows only the standard claims
        claims["groups"] = list(hooks.group_names(user, client.app))
    return claims


# -- codes and tokens --------------------------------------------------------------------


class Code:
    """A consumed authorization code, as authlib's grant and PKCE check read it."""

    def __init__(self, row: OidcCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return self.row.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class Token:
    """A stored token row, as authlib's validators and endpoints read it."""

    def __init__(self, row: OidcToken) -> None:
        self.row = row
        self.scope = row.scope

    def check_client(self, client: Client) -> bool:
        return self.row.client_id == client.row.id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return max(0, _ts(self.row.access_expires_at) - now_ts())

    def is_expired(self) -> bool:
        return _ts(self.row.access_expires_at) <= now_ts()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None

    def get_user(self) -> User | None:
        return db.session.get(User, self.row.user_id)

    def get_client(self) -> Client | None:
        return client_by_id(self.row.client_id)


@dataclass(frozen=True)
class SavedToken:
    """What the ID token needs of the token row just written."""

    auth_time: int
    sid: str


def revoke_family(family: str, reason: str, client: Client | None) -> None:
    now = context.now()
    db.session.execute(
        update(OidcToken).where(OidcToken.family == family, OidcToken.revoked_at.is_(None)).values(revoked_at=now)
    )
    record("oidc_tokens_revoked", app=client.client_id if client else None, detail={"reason": reason})


def _save_token(token: dict[str, Any], req: Any) -> None:
    """Store a token response (hashes only) and record ``oidc_token``; the view commits."""
    client: Client = req.client
    code: Code | None = getattr(req, "authorization_code", None)
    previous: Token | None = getattr(req, "refresh_token", None)
    source = code.row if code else previous.row if previous else None
    assert source is not None
    now = context.now()
    refresh = token.get("refresh_token")
    values = dict(
        client_id=client.row.id, user_id=req.user.id,
        code_id=code.row.id if code else previous.row.code_id if previous else None,
        family=previous.row.family if previous else secrets.token_urlsafe(16),
        access_token_hash=token_hash(token["access_token"]),
        refresh_token_hash=token_hash(refresh) if refresh else None,
        scope=token.get("scope", ""), auth_time=source.auth_time, sid=source.sid,
        issued_at=now, access_expires_at=now + timedelta(seconds=int(token["expires_in"])),
        refresh_expires_at=now + timedelta(seconds=int(current_app.config["OIDC_REFRESH_TOKEN_LIFETIME"]))
        if refresh else None,
    )
    db.session.execute(insert(OidcToken).values(**values))  # one INSERT, no unit of work
    req.saved_token = SavedToken(auth_time=source.auth_time, sid=source.sid)
    record("oidc_token", user=req.user, app=client.client_id,
           detail={"grant": "refresh_token" if previous else "authorization_code", "refresh": bool(refresh)})


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: Client) -> str:
        uri = request.payload.redirect_uri
        if not uri:
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        if not client.check_redirect_uri(uri):
            raise InvalidRequestError("The 'redirect_uri' is not registered for this client.")
        return str(uri)

    def create_authorization_response(self, redirect_uri: str, grant_user: Any) -> Any:
        status, body, headers = super().create_authorization_response(redirect_uri, grant_user)
        location = dict(headers)["Location"]
        return status, body, [("Location", add_params_to_uri(location, [("iss", issuer())]))]

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        db.session.execute(insert(OidcCode).values(
            code_hash=token_hash(code), client_id=request.client.row.id, user_id=request.user.id,
            redirect_uri=request.payload.redirect_uri, scope=request.scope or "", nonce=data.get("nonce"),
            code_challenge=data["code_challenge"], code_challenge_method=data["code_challenge_method"],
            auth_time=g.oidc_auth_time, sid=g.oidc_sid,
            expires_at=context.now() + timedelta(seconds=CODE_LIFETIME),
        ))

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        """Consume the code: one UPDATE decides who wins; a replay revokes what it issued."""
        digest = token_hash(code)
        now = context.now()
        row = db.session.scalars(
            update(OidcCode)
            .where(OidcCode.code_hash == digest, OidcCode.used_at.is_(None), OidcCode.client_id == client.row.id)
            .values(used_at=now).returning(OidcCode),
            execution_options={"synchronize_session": False},
        ).first()  # the winner gets the row in the same statement
        won = row is not None
        if row is None:
            row = db.session.scalars(select(OidcCode).where(OidcCode.code_hash == digest)).first()
        if row is None or row.client_id != client.row.id:
            return None
        if not won:
            tokens = db.session.scalars(select(OidcToken.family).where(OidcToken.code_id == row.id)).all()
            for family in set(tokens):
                revoke_family(family, "code replayed", client)
            record("oidc_code_replayed", app=client.client_id, detail={"code_id": row.id})
            return None
        if _ts(row.expires_at) <= now_ts():
            return None
        return Code(row)

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Nothing: the code was consumed (marked used) when it was read."""

    def authenticate_user(self, authorization_code: Code) -> User | None:
        user = db.session.get(User, authorization_code.row.user_id)
        return user if user is not None and user.active else None


class RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        row = db.session.scalars(
            select(OidcToken).where(OidcToken.refresh_token_hash == token_hash(refresh_token))
        ).first()
        if row is None:
            return None
        client = self.request.client
        if row.client_id != client.row.id:
            return None
        if row.refresh_used_at is not None or row.revoked_at is not None:
            if row.refresh_used_at is not None:  # a rotated token came back: someone has a copy
                revoke_family(row.family, "refresh token reused", client)
            return None
        if row.refresh_expires_at is None or _ts(row.refresh_expires_at) <= now_ts():
            return None
        won = changed(
            update(OidcToken).where(OidcToken.id == row.id, OidcToken.refresh_used_at.is_(None))
            .values(refresh_used_at=context.now())
        )
        if not won:
            revoke_family(row.family, "refresh token reused", client)
            return None
        return Token(row)

    def authenticate_user(self, refresh_token: Token) -> User | None:
        user = refresh_token.get_user()
        return user if user is not None and user.active else None

    def revoke_old_credential(self, refresh_token: Token) -> None:
        refresh_token.row.revoked_at = context.now()


class S256Challenge(CodeChallenge):
    """PKCE for every client, S256 only."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send 'code_challenge' with 'code_challenge_method=S256'.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only 'code_challenge_method=S256' is accepted.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class IdTokens(OpenIDToken):
    """ID tokens signed with the client's algorithm and the current key of it (kid set)."""

    def generate_user_info(self, user: User, scope: str) -> dict[str, Any]:
        return user_claims(user, g.oidc_client, scope)

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        client: Client = request.client
        g.oidc_client = client
        code: Code | None = getattr(request, "authorization_code", None)
        saved: SavedToken = request.saved_token
        alg = client.row.id_token_alg
        kid, key = keys.signing_key(alg)
        now = now_ts()
        claims: dict[str, Any] = {
            "iss": issuer(), "aud": client.client_id, "iat": now,
            "exp": now + int(current_app.config["OIDC_ID_TOKEN_LIFETIME"]),
            "auth_time": saved.auth_time, "sid": saved.sid, "azp": client.client_id,
        }
        if code is not None and code.get_nonce():
            claims["nonce"] = code.get_nonce()
        at_hash = create_half_hash(token["access_token"], alg)
        if at_hash is not None:
            claims["at_hash"] = at_hash.decode("ascii")
        claims.update(self.generate_user_info(request.user, token["scope"]))
        return jwt.encode({"alg": alg, "kid": kid, "typ": "JWT"}, claims, key, algorithms=[alg])


class IdTokensForCode(IdTokens, OpenIDCode):
    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return False  # the same nonce twice is the RP's business (it checks its own); it is echoed


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        digest = token_hash(token_string)
        row = None
        if token_type_hint != "refresh_token":
            row = db.session.scalars(select(OidcToken).where(OidcToken.access_token_hash == digest)).first()
        if row is None and token_type_hint != "access_token":
            row = db.session.scalars(select(OidcToken).where(OidcToken.refresh_token_hash == digest)).first()
        if row is None and token_type_hint == "refresh_token":
            row = db.session.scalars(select(OidcToken).where(OidcToken.access_token_hash == digest)).first()
        return Token(row) if row else None

    def revoke_token(self, token: Token, request: Any) -> None:
        if token.row.refresh_token_hash and token_hash(request.form["token"]) == token.row.refresh_token_hash:
            revoke_family(token.row.family, "revoked by the app", request.client)
        else:
            token.row.revoked_at = context.now()
            record("oidc_tokens_revoked", app=request.client.client_id, detail={"reason": "access token revoked"})


class EndSession(EndSessionEndpoint):
    def get_server_jwks(self) -> KeySet:
        return keys.public_keyset()

    def get_algorithms(self) -> list[str]:
        return list(keys.ALGORITHMS)  # never "none"

    def end_session(self, end_session_request: Any) -> None:
        g.oidc_end_session = end_session_request  # the view ends the hub session


# -- bearer tokens (userinfo) ------------------------------------------------------------


class AccessTokens(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> Token | None:
        row = db.session.scalars(
            select(OidcToken).where(OidcToken.access_token_hash == token_hash(token_string))
        ).first()
        return Token(row) if row else None


class Protector(ResourceProtector):
    """Bearer token from the Authorization header or, for POST, the form body (RFC 6750 2.2)."""

    def parse_request_authorization(self, req: Any) -> Any:
        try:
            return super().parse_request_authorization(req)
        except MissingAuthorizationError:
            if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
                value = request.form.get("access_token")
                if value:
                    return self.get_token_validator("bearer"), value
            raise


# -- wiring ------------------------------------------------------------------------------


def _expires_in(client: Client, grant_type: str) -> int:
    return int(current_app.config["OIDC_ACCESS_TOKEN_LIFETIME"])


class Server(AuthorizationServer):
    def save_token(self, token: dict[str, Any], request: Any) -> None:
        _save_token(token, request)


def build(app: Flask) -> tuple[Server, Protector]:
    server = Server()
    server.init_app(app, query_client=query_client)  # unknown scopes are dropped, not refused
    server.register_token_generator("default", BearerTokenGenerator(
        lambda *a, **k: secrets.token_urlsafe(32), lambda *a, **k: secrets.token_urlsafe(48), _expires_in))
    server.register_grant(CodeGrant, [S256Challenge(required=True), IdTokensForCode(require_nonce=False)])
    server.register_grant(RefreshGrant, [IdTokens()])
    server.register_endpoint(Revocation)
    server.register_endpoint(EndSession)
    protector = Protector()
    protector.register_token_validator(AccessTokens())
    return server, protector


def metadata() -> dict[str, Any]:
    """The discovery document (OpenID Connect Discovery 1.0)."""
    iss = issuer()

    def url(endpoint: str) -> str:
        return iss + url_for(endpoint)

    return {
        "issuer": iss,
        "authorization_endpoint": url("oidc.authorize"),
        "token_endpoint": url("oidc.token"),
        "userinfo_endpoint": url("oidc.userinfo"),
        "jwks_uri": url("oidc.jwks"),
        "revocation_endpoint": url("oidc.revoke"),
        "end_session_endpoint": url("oidc.end_session"),
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": list(keys.ALGORITHMS),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "azp",
                             "name", "given_name", "family_name", "preferred_username", "email",
                             "email_verified", "groups"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }


__all__ = ["Client", "Server", "build", "issuer", "metadata", "query_client", "token_hash"]
