"""Recording audit events."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import unquote

from cachetools import TTLCache
from flask import Flask, current_app, has_app_context, has_request_context, request
from flask_login import current_user

from sso.base import context
from sso.base.db import Base, db, in_transaction

from .buffer import AuditBuffer, parse_buffered
from .models import AuditEvent


class Subject(Protocol):
    """What an audit entry is about: any object with a user ``id`` (a hub user)."""

    @property
    def id(self) -> int: ...


class AppRef(Protocol):
    """A connected app, named in an entry by its ``slug``."""

    @property
    def slug(self) -> str: ...

EVENTS: list[str] = [
    "login_ok",
    "login_failed",
    "logout",
    "jump",
    "redirect_refused",
    "app_created",
    "app_changed",
    "secret_set",
    "secret_rotated",
    "secret_revealed",
    "secret_retired",
    "secrets_rewrapped",
    "user_created",
    "user_changed",
    "password_set",
    "password_link",
    "users_imported",
]


def register_events(*names: str) -> None:
    """Let another package (e.g. user pairing) add its own audit event names."""
    for name in names:
        if not name or len(name) > 40 or not name.replace("_", "").isalnum():
            raise ValueError(f"bad audit event name {name!r}")
        if name not in EVENTS:
            EVENTS.append(name)
_MAX_DETAIL = 500
REMOVED = "[removed]"

# Parameters that carry a token or a credential in some sign-on protocol.
TOKEN_PARAMETERS = frozenset(
    {"multipass", "token", "code", "id_token", "access_token", "refresh_token", "sso", "sig"}
)
_PARAMETER = re.compile(r"(?P<lead>[?&#;])(?P<name>[^=&#;?]*)=(?P<value>[^&#;?]*)")
# A JWT, or a long run of base64 / base64url characters (a Multipass token, a secret).
_BLOB = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|[A-Za-z0-9_+/-]{32,}(?:=|%3[dD]){0,2}")


def _blob(match: re.Match[str]) -> str:
    text = match.group(0)
    if text.startswith("eyJ") and text.count(".") == 2:
        return REMOVED
    mixed = any(c.isupper() for c in text) and any(c.islower() for c in text) and any(c.isdigit() for c in text)
    return REMOVED if mixed else text


def _parameter(match: re.Match[str]) -> str:
    name = unquote(unquote(match.group("name"))).strip().lower()
    if name in TOKEN_PARAMETERS and match.group("value"):
        return f"{match.group('lead')}{match.group('name')}={REMOVED}"
    return match.group(0)


def _scrub_once(text: str) -> str:
    return _BLOB.sub(_blob, _PARAMETER.sub(_parameter, text))


def scrub(text: str) -> str:
    """``text`` without anything token-like: the values of :data:`TOKEN_PARAMETERS` in a
    query or fragment, JWTs and long mixed-case base64 runs, each replaced by ``[removed]``.

    A value that hides a token behind percent-encoding (a ``return_to`` inside a
    ``return_to``) is decoded (up to three rounds) and kept in its scrubbed decoded form.
    """
    if "=" not in text and "%" not in text and len(text) < 32:
        return text  # nothing token-like fits (the jump's hot path: short plain values)
    result = _scrub_once(text)
    current = text
    for _ in range(3):
        decoded = unquote(current)
        if decoded == current:
            break
        scrubbed = _scrub_once(decoded)
        if scrubbed != decoded:
            result = _scrub_once(scrubbed)
        current = decoded
    return result


def _clip(value: Any) -> Any:
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    text = scrub(value if isinstance(value, str) else str(value))
    return text[:_MAX_DETAIL].replace("\x00", "\\x00")


def _detail(key: object, value: Any) -> Any:
    if str(key).lower() in TOKEN_PARAMETERS and value not in (None, ""):
        return REMOVED
    return _clip(value)


_BUFFER_KEY = "audit.buffer"  # in the hub state's features
_buffer_lock = threading.Lock()


def buffered_events(app: Flask | None = None) -> frozenset[str]:
    """The event names this app writes through the buffer (``SSO_AUDIT_BUFFERED``)."""
    app = app or current_app
    value = app.config.get("AUDIT_BUFFERED")
    if not isinstance(value, frozenset):
        value = app.config["AUDIT_BUFFERED"] = parse_buffered(value)
    return value


def audit_buffer(app: Flask | None = None, *, create: bool = True) -> AuditBuffer | None:
    """This process's audit buffer of ``app`` (made on first use, again after a fork)."""
    features = context.hub_state(app).features
    buffer: AuditBuffer | None = features.get(_BUFFER_KEY)
    if buffer is not None and buffer.pid == os.getpid():
        return buffer
    if not create:
        return None
    with _buffer_lock:
        buffer = features.get(_BUFFER_KEY)
        if buffer is None or buffer.pid != os.getpid():
            target = app if app is not None else current_app
            with target.app_context():
                engine = db.engine
            buffer = features[_BUFFER_KEY] = AuditBuffer(engine, Base.metadata.tables[AuditEvent.__tablename__])
        return buffer


def flush(app: Flask | None = None) -> int:
    """Write this process's buffered audit events now; return how many were written."""
    if app is None and not has_app_context():
        return 0
    buffer = audit_buffer(app, create=False)
    return buffer.flush() if buffer is not None else 0


def close_buffer(app: Flask | None = None) -> None:
    """Flush and stop this process's audit buffer of ``app`` (tests; orderly shutdown)."""
    buffer = audit_buffer(app, create=False)
    if buffer is not None:
        buffer.close()
        context.hub_state(app).features.pop(_BUFFER_KEY, None)


def record(
    event: str,
    *,
    user: Subject | None = None,
    app: AppRef | str | None = None,
    detail: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEvent | None:
    """Store one audit event, stamped by the app's clock. ``detail`` must never hold a
    secret; every value is scrubbed of token-like parts (:func:`scrub`) and clipped.

    Inside a use case's :func:`~sso.base.db.transaction` the row joins that transaction
    and is committed with the change it describes (or rolled back with it). Outside one,
    the event stands alone: events named in ``SSO_AUDIT_BUFFERED`` go through the process's
    :class:`~sso.audit.buffer.AuditBuffer` and reach the table within about 200 ms (or at
    :func:`flush`), and None is returned; any other event (or a buffered one when the buffer
    is full) is written and committed at once, and the stored row is returned.

    The actor is the logged-in user, else ``actor`` (e.g. ``"cli"``), else ``"anonymous"``.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    ip = None
    if has_request_context():
        ip = (request.remote_addr or "")[:64] or None
        if actor is None:
            viewer = current_user._get_current_object()  # the proxy resolved once
            if viewer is not None and viewer.is_authenticated:
                actor = viewer.login
    slug = app if isinstance(app, str) or app is None else app.slug
    row = {
        "at": context.now(),
        "event": event,
        "user_id": user.id if user is not None else None,
        "actor": (actor or "anonymous")[:200].replace("\x00", ""),
        "app_slug": slug[:64] if slug else None,
        "ip": ip,
        "detail": {str(k)[:50]: _detail(k, v) for k, v in (detail or {}).items()},
    }
    joined = in_transaction()
    if not joined and event in buffered_events():
        buffer = audit_buffer()
        if buffer is not None and buffer.put(row):
            return None
    entry = AuditEvent(**row)
    db.session.add(entry)
    if not joined:
        db.session.commit()
    return entry


# -- anonymous events ---------------------------------------------------------------------

ANONYMOUS_WINDOW = 60.0  # seconds: at most one row per client IP, event and key
_ANONYMOUS_KEY = "audit.anonymous"  # in the hub state's features
_ANONYMOUS_TRACKED = 10_000  # (ip, event, key) triples remembered per worker
_anonymous_lock = threading.Lock()


def record_anonymous(
    event: str, *, key: str = "", app: AppRef | str | None = None, detail: Mapping[str, Any] | None = None
) -> AuditEvent | None:
    """Record ``event`` for a visitor who is not signed in, without letting anyone flood the log.

    Such refusals are written before any login check, so any client can cause them at the
    rate it sends requests. Per worker, at most one row per client IP, ``event`` and ``key``
    per :data:`ANONYMOUS_WINDOW` (by the app's clock); the ones that got no row of their own
    are counted and the next row says how many (``unrecorded_before``). ``key`` must not be
    chosen by the client (a registered app's slug, an endpoint name), or varying it would
    get a row each time. Returns the row written, if any.
    """
    ip = (request.remote_addr or "") if has_request_context() else ""
    now = context.clock().time()
    features = context.hub_state().features
    with _anonymous_lock:
        seen: TTLCache[tuple[str, str, str], list[float]] | None = features.get(_ANONYMOUS_KEY)
        if seen is None:
            seen = features.setdefault(_ANONYMOUS_KEY, TTLCache(
                _ANONYMOUS_TRACKED, 10 * ANONYMOUS_WINDOW, timer=context.clock().time))
        entry = seen.get((ip, event, key))  # [time of the last row, events since without a row]
        if entry is not None and now - entry[0] < ANONYMOUS_WINDOW:
            entry[1] += 1
            return None
        seen[(ip, event, key)] = [now, 0]
    details = dict(detail or {})
    if entry is not None and entry[1]:
        details["unrecorded_before"] = int(entry[1])
    return record(event, app=app, detail=details)
