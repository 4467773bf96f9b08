"""The steps of a sign-in: password, then (when the user has or needs one) a second factor,
then the session. Between the steps, the browser's signed session cookie holds who passed
the password, until when, and where to go next; nothing is signed in until the last step."""

from __future__ import annotations

from typing import Any

from flask import request, session
from flask_login import login_user

from sso.audit import record, register_events
from sso.base import context
from sso.base.db import db, transaction

from .factors import factor_required, has_factor
from .models import User
from .sessions import start_session

PENDING_KEY = "sso_pending_login"
PENDING_SECONDS = 600

register_events("factor_ok")


def needs_second_step(user: User) -> bool:
    return has_factor(user) or factor_required(user)


def begin_second_step(user: User, target: str) -> None:
    """The password was right and a factor is (or must become) due: remember it for
    :data:`PENDING_SECONDS`. A fresh session: nothing from before survives."""
    session.clear()
    session[PENDING_KEY] = {
        "u": user.id, "n": user.session_nonce, "t": context.clock().time(), "next": target,
        "enrol": not has_factor(user),
    }


def pending() -> tuple[User, dict[str, Any]] | None:
    """The user half-way through signing in, and the pending state; None if there is none,
    it has expired, or the account changed since (password set, deactivated)."""
    state = session.get(PENDING_KEY)
    if not isinstance(state, dict) or not isinstance(state.get("u"), int):
        return None
    if context.clock().time() - float(state.get("t", 0)) > PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(User, state["u"])
    if user is None or not user.active or user.session_nonce != state.get("n"):
        session.pop(PENDING_KEY, None)
        return None
    return user, state


def sign_in(user: User) -> None:
    """Start a hub session for ``user``: a new cookie session bound to a new session row."""
    session.clear()  # new session at login: nothing from before survives (fixation)
    login_id = start_session(user, ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
    login_user(user)
    session["_user_id"] = login_id


def finish_second_step(user: User, kind: str) -> None:
    """The use case that ends a sign-in with a second step: ``factor_ok`` (``kind`` says
    which code, passkey or enrolment passed it) in the audit log, then the hub session."""
    with transaction():
        record("factor_ok", user=user, actor=user.login, detail={"kind": kind})
    sign_in(user)


def current_session_id() -> str | None:
    """The session row id of the signed-in browser making this request."""
    value = session.get("_user_id")
    if not isinstance(value, str) or value.count(".") != 2:
        return None
    return value.rsplit(".", 1)[1]
