"""Connected-app use cases: settings, validation, secrets, rotation, codecs.

Each public use case validates its input, writes, records its audit event and commits
once (:func:`sso.base.db.transaction`). The admin pages and the CLI only parse input and
map :class:`~sso.base.errors.HubError` to a page or a message.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cachetools import LRUCache, TTLCache
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import joinedload

from sso.audit import record, register_events
from sso.base import context
from sso.base.db import db, on_write, transaction
from sso.base.errors import Conflict, NotFound, ValidationError
from sso.base.redirects import canonical_login_url, normalize_origin, origin_of
from sso.multipass import MultipassCodec

from .models import (
    ACTIVE,
    DEFAULT_TOKEN_LIFETIME,
    NEXT,
    PREVIOUS,
    PROTOCOLS,
    RETIRED,
    AppSecret,
    ConnectedApp,
    fingerprint,
)
from .secrets import SecretBox, check_pasted_secret, generate_secret

log = logging.getLogger(__name__)

register_events("secret_staged", "secret_activated", "secret_discarded")

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
    # secret id -> clock time of this worker's last write of its last_used_at (see note_issued)
    last_used_marks: dict[int, float] = field(default_factory=dict)


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
        raise ValidationError(
            "The slug must be 1-64 lower-case letters, digits or dashes (e.g. invoices).", field="slug"
        )
    return text


def clean_origins(values: Iterable[str] | str) -> list[str]:
    """Allowed origins, canonical and de-duplicated; accepts one per line or a list."""
    items = values.splitlines() if isinstance(values, str) else list(values)
    result: list[str] = []
    for item in items:
        if item and item.strip():
            try:
                origin = normalize_origin(item)
            except ValidationError as err:
                raise ValidationError(err.message, field="allowed_origins") from err
            if origin not in result:
                result.append(origin)
    return result


def check_login_url_template(template: object, allowed_origins: list[str]) -> str:
    """Check a login URL template: absolute http(s), ``{token}`` once, as the last path
    segment or a whole query value, on one of the allowed origins."""
    text = str(template or "").strip()
    if text.count(TOKEN_PLACEHOLDER) != 1:
        raise ValidationError("The login URL must contain {token} exactly once.", field="login_url_template")
    sample = text.replace(TOKEN_PLACEHOLDER, "TOKEN")
    origin = origin_of(sample)
    if origin is None:
        raise ValidationError("The login URL must be an absolute http:// or https:// URL.", field="login_url_template")
    parts = urlsplit(sample)
    in_path = parts.path.endswith("/TOKEN") and "TOKEN" not in parts.query
    in_query = "TOKEN" not in parts.path and any(v == "TOKEN" for _k, v in parse_qsl(parts.query))
    if not (in_path or in_query) or parts.fragment:
        raise ValidationError(
            "Put {token} at the end of the path (.../login/multipass/{token}) "
            "or as a query value (...?multipass={token}).",
            field="login_url_template",
        )
    if origin not in allowed_origins:
        raise ValidationError(
            f"The login URL's origin {origin} is not among the allowed origins.", field="login_url_template"
        )
    return text


def clean_login_urls(values: Iterable[str] | str, allowed_origins: list[str]) -> list[str]:
    """The login URLs the service-initiated flow may send a token to, canonical and
    de-duplicated (one per line or a list): absolute, on an allowed origin, no fragment,
    no ``{token}`` and no ``multipass`` parameter (the hub adds that one)."""
    items = values.splitlines() if isinstance(values, str) else list(values)
    result: list[str] = []
    for item in items:
        text = str(item or "").strip()
        if not text:
            continue
        canonical = canonical_login_url(text)
        if any(key == "multipass" for key, _v in parse_qsl(urlsplit(text).query, keep_blank_values=True)):
            raise ValidationError("A registered login URL must not carry a multipass parameter: the hub adds it.")
        if canonical is None or TOKEN_PLACEHOLDER in text:
            raise ValidationError(
                f"{text[:100]!r} is not a login URL such as https://app.example.com/login "
                "(absolute, no #fragment, no {token})."
            )
        if origin_of(canonical) not in allowed_origins:
            raise ValidationError(f"The login URL {text[:100]!r} is not on one of the allowed origins.")
        if canonical not in result:
            result.append(canonical)
    if len(result) > 20:
        raise ValidationError("At most 20 login URLs per app.")
    return result


def default_login_urls(template: str) -> list[str]:
    """The login URL registered when IT names none: the login URL template without its
    ``multipass={token}`` query parameter (``https://crm.example/login?multipass={token}``
    gives ``https://crm.example/login``), since the service-initiated flow adds exactly that
    parameter. A template with ``{token}`` in its path (``.../login/multipass/{token}``)
    gives none: that path without a token is not a page that reads ``?multipass=``, so IT
    registers the app's login page explicitly."""
    parts = urlsplit(template)
    pairs = parts.query.split("&") if parts.query else []
    if "multipass=" + TOKEN_PLACEHOLDER not in pairs or TOKEN_PLACEHOLDER in parts.path:
        return []
    rest = "&".join(p for p in pairs if p != "multipass=" + TOKEN_PLACEHOLDER)
    base = template.split("?", 1)[0]
    canonical = canonical_login_url(f"{base}?{rest}" if rest else base)
    return [canonical] if canonical else []


def clean_lifetime(value: object) -> int:
    """Token lifetime in seconds, 30..3600."""
    try:
        seconds = int(str(value).strip())
    except (TypeError, ValueError) as err:
        raise ValidationError("The token lifetime must be a whole number of seconds.", field="token_lifetime") from err
    if not MIN_LIFETIME <= seconds <= MAX_LIFETIME:
        raise ValidationError(
            f"The token lifetime must be between {MIN_LIFETIME} and {MAX_LIFETIME} seconds.", field="token_lifetime"
        )
    return seconds


def clean_logout_url(value: object, allowed_origins: list[str]) -> str | None:
    """Optional front-channel logout URL, on an allowed origin."""
    text = str(value or "").strip()
    if not text:
        return None
    origin = origin_of(text)
    if origin is None or origin not in allowed_origins:
        raise ValidationError(
            "The logout URL must be an absolute URL on one of the allowed origins.", field="logout_url"
        )
    return text


def clean_name(value: object) -> str:
    text = str(value or "").strip()
    if not text or len(text) > 200 or any(ord(c) < 32 for c in text):
        raise ValidationError("The display name is required (at most 200 characters).", field="name")
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
            "login_urls": [],
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
    checked_template = check_login_url_template(template, origins)
    login_urls_in = pick("login_urls", current.login_urls if current else None)
    if login_urls_in is None:
        login_urls_in = default_login_urls(checked_template)
    return {
        "name": clean_name(pick("name", current.name if current else None)),
        "allowed_origins": origins,
        "login_url_template": checked_template,
        "login_urls": clean_login_urls(login_urls_in, origins),
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
    login_urls: Iterable[str] | str | None = None,
    actor: str | None = None,
    protocol: str = "multipass",
) -> ConnectedApp:
    """Create a connected app without a secret and record ``app_created``; one commit.

    With no allowed origins, the login URL's origin is the only one. ``login_urls`` None
    (or empty) registers :func:`default_login_urls`. Raises ValidationError.
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
            "token_lifetime": token_lifetime, "enabled": enabled, "logout_url": logout_url,
            "login_urls": _given_login_urls(login_urls),
            "protocol": protocol,
        }
    )
    with transaction():
        if db.session.scalars(select(ConnectedApp.id).where(ConnectedApp.slug == slug)).first():
            raise ValidationError(f"A connected app with the slug {slug!r} already exists.", field="slug")
        app = ConnectedApp(slug=slug, protocol=protocol, **settings)
        db.session.add(app)
        db.session.flush()
        record("app_created", app=app, actor=actor, detail={"name": app.name, "login_url": app.login_url_template})
    return app


def _given_login_urls(values: Iterable[str] | str | None) -> list[str] | str | None:
    """None when nothing was given (blank text or an empty list): the default applies."""
    if values is None:
        return None
    if isinstance(values, str):
        return values if values.strip() else None
    items = [v for v in values if v and v.strip()]
    return items or None


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
    login_urls: Iterable[str] | str | None = None,
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
            enabled=enabled, logout_url=logout_url, login_urls=login_urls, actor=actor,
        )
        plain = set_secret(app, pasted, actor=actor, shown_in=shown_in)
    return app, plain


def update_connected_app(app: ConnectedApp, *, actor: str | None = None, **changes: Any) -> dict[str, Any]:
    """Validate and apply changes (name, login_url_template, allowed_origins,
    token_lifetime, enabled, logout_url, login_urls), record ``app_changed``; returns the changed fields."""
    allowed = {"name", "login_url_template", "allowed_origins", "token_lifetime", "enabled", "logout_url", "login_urls"}
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
#
# Staged rotation: stage (a ``next`` secret; the app is configured to accept it while the
# hub keeps issuing with the ``active`` one), activate (next -> active, active -> previous;
# the hub issues with the new one at once), retire (previous -> retired). The hub only
# issues tokens, it never reads them, so ``previous`` and ``next`` are what the app must
# accept; the hub lists them so IT knows what to configure there.

DUPLICATE_SECRET = (
    "This secret is already stored at the hub (for a connected app, now or before). "
    "Every app needs a secret of its own: generate one or paste another."
)


CONCURRENT_CHANGE = (
    "The secrets of this app were changed at the same moment by someone else: "
    "nothing was changed by this request. Reload the page and check."
)


@contextmanager
def _secrets_transaction() -> Iterator[None]:
    """A use case's transaction on an app's secrets; the database's one-per-state index
    turns a concurrent change into a Conflict (everything rolled back) instead of a 500."""
    try:
        with transaction():
            yield
    except IntegrityError as err:
        raise Conflict(CONCURRENT_CHANGE) from err


def _in_state(app: ConnectedApp, state: str) -> AppSecret | None:
    return next((s for s in app.secrets if s.state == state), None)


def active_secret(app: ConnectedApp) -> AppSecret | None:
    """The issuing secret row, if any."""
    return _in_state(app, ACTIVE)


current_secret = active_secret  # the earlier name


def staged_secret(app: ConnectedApp) -> AppSecret | None:
    """The staged (``next``) secret row, if any."""
    return _in_state(app, NEXT)


def previous_secret(app: ConnectedApp) -> AppSecret | None:
    """The ``previous`` secret row (replaced by the active one, maybe still accepted by the app)."""
    return _in_state(app, PREVIOUS)


def secret_fingerprint(row: AppSecret) -> str:
    """The fingerprint of a stored secret (first 8 hex digits of its SHA-256)."""
    return fingerprint(secret_box().decrypt(row.encrypted_value))


def _digest(plain: str) -> bytes:
    return hashlib.sha256(plain.encode("utf-8")).digest()


def _refuse_duplicate(plain: str) -> None:
    """ValidationError when ``plain`` equals any stored secret of any app (retired ones too).

    Every stored secret is decrypted and compared by SHA-256 digest in constant time; the
    message never says which app holds it.
    """
    wanted = _digest(plain)
    box = secret_box()
    clash = False
    for stored in db.session.scalars(select(AppSecret.encrypted_value)):
        clash |= hmac.compare_digest(_digest(box.decrypt(stored)), wanted)
    if clash:
        raise ValidationError(DUPLICATE_SECRET)


def _new_secret(secret: str | None) -> str:
    plain = check_pasted_secret(secret) if secret is not None else generate_secret()
    _refuse_duplicate(plain)
    return plain


def set_secret(
    app: ConnectedApp, secret: str | None = None, *, actor: str | None = None, shown_in: str = "admin page"
) -> str:
    """Give an app without an active secret its first one (``secret`` pasted, or generated);
    it issues at once. Return it in plain text.

    Recorded as ``secret_set``; a generated secret is also recorded as ``secret_revealed``
    ``shown_in`` the page or command that shows it: the only time it leaves the hub.
    Raises Conflict when the app already has an active secret (stage a new one instead).
    """
    if active_secret(app) is not None:
        raise Conflict(f"The app {app.slug} already has an active secret: stage a new one (rotate-secret).")
    with _secrets_transaction():
        plain = _new_secret(secret)
        app.secrets.insert(0, AppSecret(encrypted_value=secret_box().encrypt(plain), state=ACTIVE,
                                        activated_at=context.now()))
        detail = {"source": "pasted" if secret is not None else "generated", "fingerprint": fingerprint(plain)}
        record("secret_set", app=app, actor=actor, detail=detail)
        if secret is None:
            record("secret_revealed", app=app, actor=actor, detail={"where": shown_in})
    return plain


def stage_secret(
    app: ConnectedApp, secret: str | None = None, *, actor: str | None = None, shown_in: str = "admin page",
    replace: bool = False,
) -> tuple[AppSecret, str]:
    """Stage a ``next`` secret (``secret`` pasted, or generated); the hub keeps issuing with
    the active one until :func:`activate_secret`. Returns the row and the plain secret.

    An app without an active secret gets it as its first, active secret (nothing issues yet,
    so nothing can break; recorded as ``secret_set``). A secret already staged is refused
    (Conflict) unless ``replace``: the app may already be configured with it; replacing
    retires it (``secret_discarded``). Recorded as ``secret_staged`` (plus
    ``secret_revealed`` for a generated secret). Any app's stored secret is refused.
    """
    if active_secret(app) is None:
        plain = set_secret(app, secret, actor=actor, shown_in=shown_in)
        row = active_secret(app)
        assert row is not None
        return row, plain
    staged = staged_secret(app)
    if staged is not None and not replace:
        raise Conflict(
            f"A next secret ({secret_fingerprint(staged)}) is already staged for {app.slug}: activate it, "
            "or replace it (the app may already accept it; configure the new one there instead)."
        )
    with _secrets_transaction():
        plain = _new_secret(secret)
        if staged is not None:
            _retire(app, staged, "secret_discarded", actor)
            db.session.flush()
        row = AppSecret(encrypted_value=secret_box().encrypt(plain), state=NEXT)
        app.secrets.insert(0, row)
        detail = {"source": "pasted" if secret is not None else "generated", "fingerprint": fingerprint(plain)}
        record("secret_staged", app=app, actor=actor, detail=detail)
        if secret is None:
            record("secret_revealed", app=app, actor=actor, detail={"where": shown_in})
    return row, plain


def _retire(app: ConnectedApp, row: AppSecret, event_name: str, actor: str | None) -> None:
    row.state = RETIRED
    row.retired_at = context.now()
    record(event_name, app=app, actor=actor, detail={"fingerprint": secret_fingerprint(row)})


def activate_secret(app: ConnectedApp, *, actor: str | None = None) -> AppSecret:
    """Switch the hub to the staged secret: next -> active, active -> previous (an older
    previous is retired). The hub issues with it from the next token on. Recorded as
    ``secret_activated``. Raises Conflict when nothing is staged."""
    staged = staged_secret(app)
    if staged is None:
        raise Conflict(f"Nothing is staged for {app.slug}: stage a next secret first (rotate-secret).")
    with _secrets_transaction():
        old_previous = previous_secret(app)
        if old_previous is not None:
            _retire(app, old_previous, "secret_retired", actor)
            db.session.flush()  # one state change per statement: the one-per-state index holds throughout
        old_active = active_secret(app)
        if old_active is not None:
            old_active.state = PREVIOUS
        db.session.flush()
        staged.state = ACTIVE
        staged.activated_at = context.now()
        detail = {"fingerprint": secret_fingerprint(staged)}
        if old_active is not None:
            detail["previous"] = secret_fingerprint(old_active)
        record("secret_activated", app=app, actor=actor, detail=detail)
    return staged


def retire_secret(app: ConnectedApp, *, actor: str | None = None) -> AppSecret:
    """Drop the previous secret (previous -> retired); recorded as ``secret_retired``.
    Raises Conflict when there is no previous secret."""
    row = previous_secret(app)
    if row is None:
        raise Conflict(f"{app.slug} has no previous secret to retire.")
    with _secrets_transaction():
        _retire(app, row, "secret_retired", actor)
    return row


def discard_staged_secret(app: ConnectedApp, *, actor: str | None = None) -> AppSecret:
    """Drop the staged secret without activating it; recorded as ``secret_discarded``.
    Raises Conflict when nothing is staged."""
    row = staged_secret(app)
    if row is None:
        raise Conflict(f"Nothing is staged for {app.slug}.")
    with _secrets_transaction():
        _retire(app, row, "secret_discarded", actor)
    return row


def issuing_secret(app: ConnectedApp) -> str:
    """The plain secret new tokens for ``app`` are issued with; raises ValidationError."""
    row = active_secret(app)
    if row is None:
        raise ValidationError(f"The app {app.name!r} has no Multipass secret yet: IT must set one.")
    return secret_box().decrypt(row.encrypted_value)


_ACCEPT_ORDER = {NEXT: 0, ACTIVE: 1, PREVIOUS: 2}


def accepted_rows(app: ConnectedApp) -> list[AppSecret]:
    """The secrets the app should accept, newest first: next (if staged), active, previous."""
    return sorted((s for s in app.secrets if s.state in _ACCEPT_ORDER), key=lambda s: _ACCEPT_ORDER[s.state])


def accepted_secrets(app: ConnectedApp) -> list[str]:
    """The plain secrets of :func:`accepted_rows`, newest first (what the app should accept)."""
    return [secret_box().decrypt(r.encrypted_value) for r in accepted_rows(app)]


LAST_USED_EVERY = 60.0  # seconds: at most one write of a secret's last_used_at per worker


def note_issued(app: IssuingApp) -> None:
    """Remember that ``app``'s active secret issued a token (its ``last_used_at``).

    The jump's hot path must not write per jump: each worker writes a secret's
    ``last_used_at`` at most once every :data:`LAST_USED_EVERY` seconds (by the app's clock),
    in a short transaction of its own. The shown time is thus up to a minute early; a failed
    write is logged and never fails the jump.
    """
    secret_id = app.secret_id
    if secret_id is None:
        return
    state = _state()
    moment = context.clock().time()
    with state.lock:
        last = state.last_used_marks.get(secret_id)
        if last is not None and moment - last < LAST_USED_EVERY:
            return
        state.last_used_marks[secret_id] = moment
    try:
        with db.engine.begin() as conn:
            conn.execute(update(AppSecret).where(AppSecret.id == secret_id).values(last_used_at=context.now()))
    except SQLAlchemyError as err:
        log.warning("could not record when secret %s last issued a token: %s", secret_id, type(err).__name__)


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
    row = active_secret(app)
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
    login_urls: tuple[str, ...] = ()
    secret_id: int | None = None  # the active secret's row (see note_issued)
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
        login_urls=tuple(app.login_urls or ()), secret_id=row.id if (row := active_secret(app)) else None,
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


on_write((ConnectedApp, AppSecret), forget_issuing_apps, name="connected_apps")
