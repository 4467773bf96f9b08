"""Recording audit events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import has_request_context, request
from flask_login import current_user

from ..extensions import db
from .models import AuditEvent

if TYPE_CHECKING:
    from ..accounts.models import User
    from ..connected_apps.models import ConnectedApp

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


def _clip(value: Any) -> Any:
    if isinstance(value, str):
        return value[:_MAX_DETAIL].replace("\x00", "\\x00")
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return str(value)[:_MAX_DETAIL]


def record(
    event: str,
    *,
    user: User | None = None,
    app: ConnectedApp | str | None = None,
    detail: Mapping[str, Any] | None = None,
    actor: str | None = None,
    commit: bool = True,
) -> AuditEvent:
    """Store one audit event. ``detail`` must never hold a secret; values are clipped.

    The actor is the logged-in user, else ``actor`` (e.g. ``"cli"``), else ``"anonymous"``.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    ip = None
    if has_request_context():
        ip = (request.remote_addr or "")[:64] or None
        if actor is None and current_user and current_user.is_authenticated:
            actor = current_user.login
    slug = app if isinstance(app, str) or app is None else app.slug
    entry = AuditEvent(
        event=event,
        user_id=user.id if user is not None else None,
        actor=(actor or "anonymous")[:200].replace("\x00", ""),
        app_slug=slug[:64] if slug else None,
        ip=ip,
        detail={str(k)[:50]: _clip(v) for k, v in (detail or {}).items()},
    )
    db.session.add(entry)
    if commit:
        db.session.commit()
    return entry
