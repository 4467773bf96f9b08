"""Connected-app logic: settings, validation, secrets, rotation, codecs."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session, joinedload

from sso.base.errors import NotFound, ValidationError
from sso.base.db import db
from sso.multipass import MultipassCodec
from sso.base.redirects import normalize_origin, origin_of
from sso.base.clock import utcnow
from .models import DEFAULT_TOKEN_LIFETIME, AppSecret, ConnectedApp
from .secrets import SecretBox, SecretDecryptionError, check_pasted_secret, generate_secret

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
TOKEN_PLACEHOLDER = "{token}"
MIN_LIFETIME, MAX_LIFETIME = 30, 3600


def secret_box() -> SecretBox:
    """The app's SecretBox, built from the configured Fernet keys."""
    box = current_app.extensions.get("sso_secret_box")
    if box is None:
        box = SecretBox(current_app.config["APP_SECRETS_KEYS"])
        current_app.extensions["sso_secret_box"] = box
    return box


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
        "token_lifetime": clean_lifetime(pick("token_lifetime", current.token_lifetime if current else DEFAULT_TOKEN_LIFETIME)),
        "enabled": bool(pick("enabled", current.enabled if current else True)),
        "logout_url": clean_logout_url(pick("logout_url", current.logout_url if current else None), origins),
    }


# -- CRUD -------------------------------------------------------------------------------


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
) -> ConnectedApp:
    """Create and commit a connected app (without a secret). Raises ValidationError.

    With no allowed origins, the login URL's origin is the only one.
    """
    slug = clean_slug(slug)
    if db.session.scalars(select(ConnectedApp.id).where(ConnectedApp.slug == slug)).first():
        raise ValidationError(f"A connected app with the slug {slug!r} already exists.")
    settings = _settings(
        {
            "name": name, "login_url_template": login_url_template,
            "allowed_origins": list(allowed_origins) if not isinstance(allowed_origins, str) else allowed_origins,
            "token_lifetime": token_lifetime, "enabled": enabled, "logout_url": logout_url,
        }
    )
    app = ConnectedApp(slug=slug, **settings)
    db.session.add(app)
    db.session.commit()
    return app


create_app = create_connected_app  # the name the design notes use


def update_connected_app(app: ConnectedApp, **changes: Any) -> dict[str, Any]:
    """Validate and apply changes (name, login_url_template, allowed_origins,
    token_lifetime, enabled, logout_url); returns the changed fields."""
    allowed = {"name", "login_url_template", "allowed_origins", "token_lifetime", "enabled", "logout_url"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    settings = _settings(dict(changes), current=app)
    diff = {k: [getattr(app, k), v] for k, v in settings.items() if getattr(app, k) != v}
    for key, (_old, value) in diff.items():
        setattr(app, key, value)
    db.session.commit()
    return diff


update_app = update_connected_app


# -- secrets ----------------------------------------------------------------------------


def _live(app: ConnectedApp) -> list[AppSecret]:
    return [s for s in app.secrets if s.retired_at is None]


def set_secret(app: ConnectedApp, secret: str | None = None) -> str:
    """Make ``secret`` (or a generated one) the issuing secret; return it in plain text.

    This is the only time the plain secret leaves the hub. Earlier secrets stay listed
    (and valid for :func:`accepted_secrets`) until retired.
    """
    plain = check_pasted_secret(secret) if secret is not None else generate_secret()
    for old in app.secrets:
        old.is_current = False
    db.session.flush()
    app.secrets.insert(0, AppSecret(encrypted_value=secret_box().encrypt(plain), is_current=True))
    db.session.commit()
    return plain


def rotate_secret(app: ConnectedApp, secret: str | None = None) -> str:
    """Like :func:`set_secret`, for an app that already has a secret."""
    return set_secret(app, secret)


def retire_secret(app: ConnectedApp, secret_id: int) -> AppSecret:
    """Retire a previous (non-current) secret of ``app``."""
    for item in app.secrets:
        if item.id == secret_id:
            if item.is_current:
                raise ValidationError("The current secret cannot be retired: rotate first.")
            if item.retired_at is None:
                item.retired_at = utcnow()
                db.session.commit()
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


def rewrap_secrets() -> int:
    """Re-encrypt every stored app secret under the first configured Fernet key.

    Run after putting a new key first in ``SSO_APP_SECRETS_KEY``; then the old key can go.
    Returns how many secrets were rewritten.
    """
    box = secret_box()
    rows = list(db.session.scalars(select(AppSecret)))
    try:
        for row in rows:
            row.encrypted_value = box.rotate(row.encrypted_value)
    except SecretDecryptionError:
        db.session.rollback()  # all or nothing
        raise
    db.session.commit()
    return len(rows)


_CODEC_CACHE_SIZE = 256


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
    cache: dict[tuple[int, int, int], MultipassCodec] = current_app.extensions.setdefault("sso_codecs", {})
    key = (app.id, row.id, app.token_lifetime)
    codec = cache.get(key)
    if codec is None:
        if len(cache) >= _CODEC_CACHE_SIZE:
            cache.clear()
        codec = cache[key] = MultipassCodec(secret_box().decrypt(row.encrypted_value), max_age=app.token_lifetime)
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


DEFAULT_APP_CACHE_TTL = 2.0  # seconds; never more, see get_issuing_app
_SNAPSHOTS_KEY = "sso_issuing_apps"
_generation = [0]  # bumped whenever this process flushes or commits a change to an app or secret
_snapshots_lock = threading.Lock()


def _snapshot(app: ConnectedApp) -> IssuingApp:
    try:
        codec: MultipassCodec | None = codec_for(app)
        reason = None
    except ValidationError as err:
        codec, reason = None, err.message
    return IssuingApp(
        id=app.id, slug=app.slug, name=app.name, enabled=bool(app.enabled),
        login_url_template=app.login_url_template, allowed_origins=tuple(app.allowed_origins or ()),
        token_lifetime=int(app.token_lifetime), codec=codec, no_codec_reason=reason,
    )


def get_issuing_app(slug: str) -> IssuingApp:
    """The connected app ``slug`` as the flows see it; raises NotFound.

    Cached per worker process for ``APP_CACHE_TTL`` seconds (configuration key, default 2,
    never more than 2; 0 turns the cache off). A change made through this process (admin page,
    CLI, service calls: anything that flushes a ConnectedApp or AppSecret) drops the cache at
    once, so the worker that disables an app or rotates its secret stops issuing with the
    old settings immediately; other workers and hub instances follow within the TTL. Unknown
    slugs are not cached.
    """
    config = current_app.config
    ttl = float(config.get("APP_CACHE_TTL", DEFAULT_APP_CACHE_TTL))
    if ttl <= 0:
        return _snapshot(get_app(slug))
    cache: dict[str, tuple[float, int, IssuingApp]] | None = current_app.extensions.get(_SNAPSHOTS_KEY)
    if cache is None:
        with _snapshots_lock:
            cache = current_app.extensions.setdefault(_SNAPSHOTS_KEY, {})
    now = time.monotonic()
    entry = cache.get(slug)
    if entry is not None and entry[0] > now and entry[1] == _generation[0]:
        return entry[2]
    generation = _generation[0]  # read before loading: a change during the load is not hidden
    snapshot = _snapshot(get_app(slug))
    if len(cache) >= _CODEC_CACHE_SIZE:
        cache.clear()
    cache[snapshot.slug] = (now + min(ttl, DEFAULT_APP_CACHE_TTL), generation, snapshot)
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
