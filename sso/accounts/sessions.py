"""Server-side records of hub sessions: one row per signed-in browser.

The flask-login id of a session is ``"<user id>.<session nonce>.<session id>"``. The
session id names a :class:`~.factor_models.UserSession` row: deleting the row ends that
session alone ("sign out this session"); changing the user's session nonce (password
change, deactivation, "sign out everywhere") ends every session at once, and the rows
are deleted with it. ``last_seen`` is written at most once a minute (by the app clock),
so a busy user costs one write a minute, not one per request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import CursorResult
from ua_parser import parse as parse_user_agent

from sso.audit import record
from sso.base import context
from sso.base.db import after_commit, db, transaction
from sso.base.errors import NotFound
from sso.base.signals import sessions_ended

from .factor_models import UserSession
from .models import User, new_session_nonce

__all__ = [
    "SessionView", "end_all_sessions", "end_session", "list_sessions", "load_session_user",
    "session_login_id", "start_session",
]

TOUCH_EVERY = timedelta(minutes=1)


def _rows(result: Any) -> int:
    """Rows an UPDATE or DELETE touched."""
    return int(cast(CursorResult[Any], result).rowcount)


def start_session(user: User, *, ip: str | None, user_agent: str | None) -> str:
    """Record a new session of ``user`` (joins the caller's transaction); returns its
    flask-login id."""
    now = context.now()
    row = UserSession(
        id=secrets.token_urlsafe(32), user_id=user.id, created_at=now, last_seen=now,
        ip=(ip or "")[:64] or None, user_agent=(user_agent or "")[:512] or None,
    )
    with transaction():
        db.session.add(row)
    return session_login_id(user, row.id)


def session_login_id(user: User, session_id: str) -> str:
    return f"{user.id}.{user.session_nonce}.{session_id}"


#: Built once: every signed-in request runs it, and building the expression costs more than
#: running it (SQLAlchemy caches the compiled SQL, not the Python objects of the statement).
_SESSION_USER = (
    select(User, UserSession.last_seen).join(UserSession, UserSession.user_id == User.id)
    .where(User.id == bindparam("user_id"), UserSession.id == bindparam("session_id"))
)


def load_session_user(login_id: str) -> tuple[User, str] | None:
    """The user and session id behind a flask-login id, or None when the session has
    ended (row gone, nonce changed, account deactivated, or an id of the old format)."""
    ident, _, rest = (login_id or "").partition(".")
    nonce, _, session_id = rest.partition(".")
    if not ident.isdigit() or not nonce or not session_id:
        return None
    # One round trip for both rows (every signed-in request pays it).
    found = db.session.execute(_SESSION_USER, {"user_id": int(ident), "session_id": session_id}).first()
    if found is None:
        return None
    user, last_seen = found
    if not user.active or not secrets.compare_digest(user.session_nonce, nonce):
        return None
    now = context.now()
    if now - _aware(last_seen) >= TOUCH_EVERY:
        # Conditional: two requests racing in the same minute write once.
        db.session.execute(
            update(UserSession).where(UserSession.id == session_id, UserSession.last_seen == last_seen)
            .values(last_seen=now)
        )
        db.session.commit()
    return user, session_id


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SessionView:
    """A session as the account page shows it."""

    id: str
    device: str
    ip: str | None
    created_at: datetime
    last_seen: datetime
    current: bool


def describe_user_agent(user_agent: str | None) -> str:
    """Words for a User-Agent: "Chrome 120 on Windows", "Mobile Safari 17 on iOS (iPhone)"."""
    if not user_agent:
        return "Unknown device"
    result = parse_user_agent(user_agent[:512])
    browser = result.user_agent.family if result.user_agent else "Unknown browser"
    if result.user_agent and result.user_agent.major:
        browser = f"{browser} {result.user_agent.major}"
    text = browser
    if result.os and result.os.family and result.os.family != "Other":
        text += f" on {result.os.family}"
    if result.device and result.device.family not in {None, "Other", "Mac", "Spider"}:
        text += f" ({result.device.family})"
    return text


def list_sessions(user: User, current: str | None) -> list[SessionView]:
    """``user``'s open sessions, the most recently seen first."""
    rows = db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.last_seen.desc())
    )
    return [
        SessionView(row.id, describe_user_agent(row.user_agent), row.ip, _aware(row.created_at),
                    _aware(row.last_seen), row.id == current)
        for row in rows
    ]


def end_session(user: User, session_id: str, *, reason: str = "signed_out") -> None:
    """End one session of ``user`` (``session_ended`` in the audit log); NotFound if it is
    not theirs or already ended. Apps signed in from it hear of it after the commit."""
    with transaction():
        result = db.session.execute(
            delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
        )
        if not _rows(result):
            raise NotFound("This session has already ended.")
        record("session_ended", user=user, detail={"reason": reason})
        announce_ended(user, reason, session_id)


def end_all_sessions(user: User, *, actor: str | None = None, reason: str = "everywhere") -> None:
    """End every session of ``user``: a new session nonce and no rows left; audited."""
    with transaction():
        drop_sessions(user, reason=reason)
        record("sessions_ended", user=user, actor=actor, detail={"reason": reason})


def drop_sessions(user: User, *, reason: str = "everywhere") -> None:
    """Inside a use case: every session of ``user`` ends (no audit row of its own); after
    the commit, ``sessions_ended`` tells the apps."""
    user.session_nonce = new_session_nonce()
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    announce_ended(user, reason, None)


def announce_ended(user: User, reason: str, session_id: str | None) -> None:
    """Send ``sessions_ended`` once the current use case has committed (never if it rolls back)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    after_commit(lambda: sessions_ended.send(app, user=user, reason=reason, session_id=session_id))
