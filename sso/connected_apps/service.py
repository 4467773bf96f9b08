"""Connected-app use cases: settings, validation, secrets, rotation, codecs.

Each public use case validates its input, writes, records its audit event and commits
once (:func:`sso.base.db.transaction`). The admin pages and the CLI only parse input and
map :class:`~sso.base.errors.HubError` to a page or a message.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cachetools import LRUCache, TTLCache
from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session, joinedload

from sso.audit import record
from sso.base import context
from sso.base.db import db, transaction
from sso.base.errors import NotFound, ValidationError
from sso.base.redirects import normalize_origin, origin_of
from sso.multipass import MultipassCodec

from .models import DEFAULT_TOKEN_LIFETIME, PROTOCOLS, AppSecret, ConnectedApp
from .secrets import SecretBox, check_pasted_secret, generate_secret

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
TOKEN_PLACEHOLDER = "{token}"
MIN_LIFETIME, MAX_LIFETIME = 30, 3600


DEFAULT_APP_CACHE_TTL = 2.0  # seconds; never more, see get_issuing_app
_CACHE_SIZE = 256
_state_lock = threading.Lock()


@dataclass
class AppsState:
    """This package's per-app state (in the hub state's ``features["connected_apps"]``):
    the secret box, the codecs and the issuing snapshots, each cached per process."""

    box: SecretBox
    codecs: LRUCache[tuple[int, int, int], MultipassCodec] = field(default_factory=lambda: LRUCache(_CACHE_SIZE))
    snapshots: TTLCache[str, tuple[int, IssuingApp]] | None = None
    snapshots_ttl: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _state() -> AppsState:
    features = context.hub_state().features
    state: AppsState | None = features.get("connected_apps")
    if state is None:
        with _state_lock:
            state = features.setdefault("connected_apps", AppsState(SecretBox(current_app.config["APP_SECRETS_KEYS"])))
    return state


def secret_box() -> SecretBox:
    """The app's SecretBox, built from the configured Fernet keys."""
    return _state().box


# -- validation (pure) ------------------------------------------------------------------


def clean_slug(value: object) -> str:
    """A slug: lower-case letters, digits and dashes, 1-64 characters."""
    text = str(value or "").strip()
    if not _SLUG.fullmatch(text):
        raise ValidationError("The slug must be 1-64 lower-case letters, digits or dashes (e.g. invoices).")
    return text


def clean_origins(values: Iterable[str] | str) -> list[str]:
    """Allowed origins, canonical and de-duplicated; accepts one per line or a list."""
    items = values.splitlines() if isinstance(values, str) else list(values)
    result: list[str] = []
    for item in items:
        if item and item.strip():
            origin = normalize_origin(item)
            if origin not in result:
                result.append(origin)
    return result


def check_login_url_template(template: object, allowed_origins: list[str]) -> str:
    """Check a login URL template: absolute http(s), ``{token}`` once, as the last path
    segment or a whole query value, on one of the allowed origins."""
    text = str(template or "").strip()
    if text.count(TOKEN_PLACEHOLDER) != 1:
        raise ValidationError("The login URL must contain {token} exactly once.")
    sample = text.replace(TOKEN_PLACEHOLDER, "TOKEN")
    origin = origin_of(sample)
    if origin is None:
        raise ValidationError("The login URL must be an absolute http:// or https:// URL.")
    parts = urlsplit(sample)
    in_path = parts.path.endswith("/TOKEN") and "TOKEN" not in parts.query
    in_query = "TOKEN" not in parts.path and any(v == "TOKEN" for _k, v in parse_qsl(parts.query))
    if not (in_path or in_query) or parts.fragment:
        raise ValidationError(
            "Put {token} at the end of the path (.../login/multipass/{token}) "
            "or as a query value (...?multipass={token})."
        )
    if origin not in allowed_origins:
        raise ValidationError(f"The login URL's origin {origin} is not among the allowed origins.")
    return text


def clean_lifetime(value: object) -> int:
    """Token lifetime in seconds, 30..3600."""
    try:
        seconds = int(str(value).strip())
    except (TypeError, ValueError) as err:
        raise ValidationError("The token lifetime must be a whole number of seconds.") from err
    if not MIN_LIFETIME <= seconds <= MAX_LIFETIME:
        raise ValidationError(f"The token lifetime must be between {MIN_LIFETIME} and {MAX_LIFETIME} seconds.")
    return seconds


def clean_logout_url(value: object, allowed_origins: list[str]) -> str | None:
    """Optional front-channel logout URL, on an allowed origin."""
    text = str(value or "").strip()
    if not text:
        return None
    origin = origin_of(text)
    if origin is None or origin not in allowed_origins:
        raise ValidationError("The logout URL must be an absolute URL on one of the allowed origins.")
    return text


def clean_name(value: object) -> str:
    text = str(value or "").strip()
    if not text or len(text) > 200 or any(ord(c) < 32 for c in text):
        raise ValidationError("The display name is required (at most 200 characters).")
    return text


def _settings(data: dict[str, Any], current: ConnectedApp | None = None) -> dict[str, Any]:
    def pick(key: str, default: Any) -> Any:
        return data[key] if key in data and data[key] is not None else default

    if (current.protocol if current else data.get("protocol", "multipass")) == "oidc":
        # An OpenID Connect client has no Multipass login URL; sso.oidc checks its URIs.
        origins = clean_origins(pick("allowed_origins", current.allowed_origins if current else []))
        return {
            "name": clean_name(pick("name", current.name if current else None)),
            "allowed_origins": origins,
            "login_url_template": "",
            "token_lifetime": clean_lifetime(
                pick("token_lifetime", current.token_lifetime if current else DEFAULT_TOKEN_LIFETIME)
            ),
            "enabled": bool(pick("enabled", current.enabled if current else True)),
            "logout_url": clean_logout_url(pick("logout_url", current.logout_url if current else None), origins),
        }

    template = pick("login_url_template", current.login_url_template if current else None)
    origins_in = pick("allowed_origins", current.allowed_origins if current else [])
    origins = clean_origins(origins_in)
    if not origins and template:
        guessed = origin_of(str(template).replace(TOKEN_PLACEHOLDER, "TOKEN"))
        origins = [guessed] if guessed else []
    return {
        "name": clean_name(pick("name", current.name if current else None)),
        "allowed_origins": origins,
        "login_url_template": check_login_url_template(template, origins),
        "token_lifetime": clean_lifetime(
            pick("token_lifetime", current.token_lifetime if current else DEFAULT_TOKEN_LIFETIME)
        ),
        "enabled": bool(pick("enabled", current.enabled if current else True)),
        "logout_url": clean_logout_url(pick("logout_url", current.logout_url if current else None), origins),
    }


# -- use cases ---------------------------------------------------------------------------


def get_app(slug: str) -> ConnectedApp:
    """The connected app with ``slug``, its secrets loaded in the same query; raises NotFound."""
    stmt = select(ConnectedApp).options(joinedload(ConnectedApp.secrets)).where(ConnectedApp.slug == str(slug)[:64])
    app = db.session.scalars(stmt).unique().first()
    if app is None:
        raise NotFound("No connected app with this name.")
    return app


def list_apps(enabled_only: bool = False) -> list[ConnectedApp]:
    """Connected apps by name."""
    stmt = select(ConnectedApp).order_by(ConnectedApp.name, ConnectedApp.slug)
    if enabled_only:
        stmt = stmt.where(ConnectedApp.enabled.is_(True))
    return list(db.session.scalars(stmt))


def create_connected_app(
    slug: str,
    name: str,
    login_url_template: str,
    allowed_origins: Iterable[str] | str = (),
    *,
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME,
    enabled: bool = True,
    logout_url: str | None = None,
    actor: str | None = None,
    protocol: str = "multipass",
) -> ConnectedApp:
    """Create a connected app without a secret and record ``app_created``; one commit.

    With no allowed origins, the login URL's origin is the only one. Raises ValidationError.
    ``protocol="oidc"`` creates the app half of an OpenID Connect client (no login URL;
    :mod:`sso.oidc` adds the rest in the same transaction).
    """
    slug = clean_slug(slug)
    if protocol not in PROTOCOLS:
        raise ValidationError(f"The protocol must be one of: {', '.join(PROTOCOLS)}.")
    settings = _settings(
        {
            "name": name, "login_url_template": login_url_template,
            "allowed_origins": list(allowed_origins) if not isinstance(allowed_origins, str) else allowed_origins,
            "token_lifetime": token_lifetime, "enabled": enabled, "logout_url": logout_url, "protocol": protocol,
        }
    )
    with transaction():
        if db.session.scalars(select(ConnectedApp.id).where(ConnectedApp.slug == slug)).first():
            raise ValidationError(f"A connected app with the slug {slug!r} already exists.")
        app = ConnectedApp(slug=slug, protocol=protocol, **settings)
        db.session.add(app)
        db.session.flush()
        record("app_created", app=app, actor=actor, detail={"name": app.name, "login_url": app.login_url_template})
    return app


def add_app(
    slug: str,
    name: str,
    login_url_template: str,
    allowed_origins: Iterable[str] | str = (),
    *,
    secret: str | None = None,
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME,
    enabled: bool = True,
    logout_url: str | None = None,
    actor: str | None = None,
    shown_in: str = "admin page",
) -> tuple[ConnectedApp, str]:
    """Register an app with its first secret (``secret`` pasted, or generated when None).

    Everything is checked before anything is written; the app, its secret and the audit
    entries (``app_created``, ``secret_set``, and ``secret_revealed`` for a generated
    secret, which the caller shows once ``shown_in``) commit together. Returns the app and
    the plain secret.
    """
    pasted = check_pasted_secret(secret) if secret is not None else None
    with transaction():
        app = create_connected_app(
            slug, name, login_url_template, allowed_origins, token_lifetime=token_lifetime,
            enabled=enabled, logout_url=logout_url, actor=actor,
        )
        plain = set_secret(app, pasted, actor=actor, shown_in=shown_in)
    return app, plain


def update_connected_app(app: ConnectedApp, *, actor: str | None = None, **changes: Any) -> dict[str, Any]:
    """Validate and apply changes (name, login_url_template, allowed_origins,
    token_lifetime, enabled, logout_url), record ``app_changed``; returns the changed fields."""
    allowed = {"name", "login_url_template", "allowed_origins", "token_lifetime", "enabled", "logout_url"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    settings = _settings(dict(changes), current=app)
    diff = {k: [getattr(app, k), v] for k, v in settings.items() if getattr(app, k) != v}
    with transaction():
        for key, (_old, value) in diff.items():
            setattr(app, key, value)
        if diff:
            record("app_changed", app=app, actor=actor, detail={k: f"{v[0]} -> {v[1]}" for k, v in diff.items()})
    return diff


# -- secrets ----------------------------------------------------------------------------


def _live(app: ConnectedApp) -> list[AppSecret]:
    return [s for s in app.secrets if s.retired_at is None]


def set_secret(
    app: ConnectedApp, secret: str | None = None, *, actor: str | None = None, shown_in: str = "admin page"
) -> str:
    """Make ``secret`` (or a generated one) the issuing secret; return it in plain text.

    Recorded as ``secret_set`` (first secret) or ``secret_rotated``; a generated secret is
    also recorded as ``secret_revealed`` ``shown_in`` the page or command that shows it:
    this is the only time the plain secret leaves the hub. Earlier secrets stay listed (and
    valid for :func:`accepted_secrets`) until retired.
    """
    plain = check_pasted_secret(secret) if secret is not None else generate_secret()
    encrypted = secret_box().encrypt(plain)
    with transaction():
        had_secret = bool(app.secrets)
        for old in app.secrets:
            old.is_current = False
        db.session.flush()
        app.secrets.insert(0, AppSecret(encrypted_value=encrypted, is_current=True))
        source = "pasted" if secret is not None else "generated"
        record("secret_rotated" if had_secret else "secret_set", app=app, actor=actor, detail={"source": source})
        if secret is None:
            record("secret_revealed", app=app, actor=actor, detail={"where": shown_in})
    return plain


rotate_secret = set_secret  # the name IT uses for an app that already has a secret


def retire_secret(app: ConnectedApp, secret_id: int, *, actor: str | None = None) -> AppSecret:
    """Retire a previous (non-current) secret of ``app``; recorded as ``secret_retired``."""
    for item in app.secrets:
        if item.id == secret_id:
            if item.is_current:
                raise ValidationError("The current secret cannot be retired: rotate first.")
            if item.retired_at is None:
                with transaction():
                    item.retired_at = context.now()
                    record("secret_retired", app=app, actor=actor, detail={"secret_id": secret_id})
            return item
    raise NotFound("No such secret for this app.")


def current_secret(app: ConnectedApp) -> AppSecret | None:
    """The issuing secret row, if any."""
    return next((s for s in app.secrets if s.is_current and s.retired_at is None), None)


def issuing_secret(app: ConnectedApp) -> str:
    """The plain secret new tokens for ``app`` are issued with; raises ValidationError."""
    row = current_secret(app)
    if row is None:
        raise ValidationError(f"The app {app.name!r} has no Multipass secret yet: IT must set one.")
    return secret_box().decrypt(row.encrypted_value)


def accepted_secrets(app: ConnectedApp) -> list[str]:
    """Every unretired secret, the issuing one first (what the app should accept)."""
    rows = sorted(_live(app), key=lambda s: (not s.is_current, -(s.id or 0)))
    return [secret_box().decrypt(r.encrypted_value) for r in rows]


def rewrap_secrets(*, actor: str | None = None) -> int:
    """Re-encrypt every stored app secret under the first configured Fernet key.

    Run after putting a new key first in ``SSO_APP_SECRETS_KEY``; then the old key can go.
    All or nothing; recorded as ``secrets_rewrapped``. Returns how many were rewritten.
    """
    box = secret_box()
    with transaction():
        rows = list(db.session.scalars(select(AppSecret)))
        for row in rows:
            row.encrypted_value = box.rotate(row.encrypted_value)  # SecretDecryptionError: all rolled back
        record("secrets_rewrapped", actor=actor, detail={"count": len(rows)})
    return len(rows)


def codec_for(app: ConnectedApp | IssuingApp) -> MultipassCodec:
    """A codec that issues with the app's current secret and lifetime.

    Cached per process by (app, secret row, lifetime): a rotation makes a new secret row,
    so the cache never issues with a replaced secret. For an :class:`IssuingApp` it is the
    codec the snapshot was built with (raises ValidationError when the app has no secret).
    """
    if isinstance(app, IssuingApp):
        if app.codec is None:
            raise ValidationError(app.no_codec_reason or "The app cannot issue tokens.")
        return app.codec
    row = current_secret(app)
    if row is None:
        issuing_secret(app)  # raises the ValidationError that explains it
    assert row is not None
    state = _state()
    key = (app.id, row.id, app.token_lifetime)
    with state.lock:
        codec = state.codecs.get(key)
    if codec is None:
        codec = MultipassCodec(secret_box().decrypt(row.encrypted_value), max_age=app.token_lifetime)
        with state.lock:
            state.codecs[key] = codec
    return codec


# -- the issuing snapshot, cached per process (the jump's hot path) ----------------------


@dataclass(frozen=True)
class IssuingApp:
    """What the sign-on flows need of a connected app, read once and shared by requests.

    Immutable; built from the database by :func:`get_issuing_app` and cached per worker
    process for at most 2 seconds (see there).
    """

    id: int
    slug: str
    name: str
    enabled: bool
    login_url_template: str
    allowed_origins: tuple[str, ...]
    token_lifetime: int
    codec: MultipassCodec | None
    no_codec_reason: str | None = None
    protocol: str = "multipass"


_generation = [0]  # bumped whenever this process flushes or commits a change to an app or secret


def _snapshot(app: ConnectedApp) -> IssuingApp:
    if app.protocol == "oidc":
        return IssuingApp(
            id=app.id, slug=app.slug, name=app.name, enabled=bool(app.enabled), login_url_template="",
            allowed_origins=tuple(app.allowed_origins or ()), token_lifetime=int(app.token_lifetime),
            codec=None, no_codec_reason="An OpenID Connect app signs users in itself.", protocol="oidc",
        )
    try:
        codec: MultipassCodec | None = codec_for(app)
        reason = None
    except ValidationError as err:
        codec, reason = None, err.message
    return IssuingApp(
        id=app.id, slug=app.slug, name=app.name, enabled=bool(app.enabled),
        login_url_template=app.login_url_template, allowed_origins=tuple(app.allowed_origins or ()),
        token_lifetime=int(app.token_lifetime), codec=codec, no_codec_reason=reason,
        protocol=app.protocol or "multipass",
    )


def _snapshots(state: AppsState) -> TTLCache[str, tuple[int, IssuingApp]] | None:
    """The snapshot cache for the configured TTL (rebuilt if the setting changed), or None."""
    ttl = min(float(current_app.config["APP_CACHE_TTL"]), DEFAULT_APP_CACHE_TTL)
    if ttl <= 0:
        return None
    if state.snapshots is None or state.snapshots_ttl != ttl:
        with state.lock:
            if state.snapshots is None or state.snapshots_ttl != ttl:
                state.snapshots = TTLCache(_CACHE_SIZE, ttl, timer=context.clock().time)
                state.snapshots_ttl = ttl
    return state.snapshots


def get_issuing_app(slug: str) -> IssuingApp:
    """The connected app ``slug`` as the flows see it; raises NotFound.

    Cached per worker process for ``APP_CACHE_TTL`` seconds by the app's clock (setting
    ``SSO_APP_CACHE_TTL``, default 2, never more than 2; 0 turns the cache off). A change
    made through this process (admin page, CLI, use cases: anything that flushes a
    ConnectedApp or AppSecret) drops the cache at once, so the worker that disables an app
    or rotates its secret stops issuing with the old settings immediately; other workers
    and hub instances follow within the TTL. Unknown slugs are not cached.
    """
    state = _state()
    cache = _snapshots(state)
    if cache is None:
        return _snapshot(get_app(slug))
    with state.lock:
        entry = cache.get(slug)
    if entry is not None and entry[0] == _generation[0]:
        return entry[1]
    generation = _generation[0]  # read before loading: a change during the load is not hidden
    snapshot = _snapshot(get_app(slug))
    with state.lock:
        cache[snapshot.slug] = (generation, snapshot)
    return snapshot


def forget_issuing_apps() -> None:
    """Drop every cached :class:`IssuingApp` of this process (all apps)."""
    _generation[0] += 1


def _touches_apps(session: Session) -> bool:
    return any(isinstance(obj, (ConnectedApp, AppSecret))
               for group in (session.new, session.dirty, session.deleted) for obj in group)


@event.listens_for(Session, "after_flush")
def _apps_flushed(session: Session, _context: Any) -> None:
    if _touches_apps(session):
        session.info["sso_apps_changed"] = True
        forget_issuing_apps()


@event.listens_for(Session, "after_commit")
def _apps_committed(session: Session) -> None:
    if session.info.pop("sso_apps_changed", False):
        forget_issuing_apps()  # again: a reload between flush and commit saw the old rows


@event.listens_for(Session, "after_rollback")
def _apps_rolled_back(session: Session) -> None:
    if session.info.pop("sso_apps_changed", False):
        forget_issuing_apps()
