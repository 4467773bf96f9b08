"""Hub session lifetimes: an idle timeout and an absolute lifetime, on the app's clock.

The session cookie is signed, not stored, so its age is kept inside it: the login stamps
``sso_login_at`` and each request refreshes ``sso_seen_at`` (at most once a minute, so the
cookie is not rewritten on every jump). A request whose session was unused for longer than
``SESSION_IDLE_TIMEOUT``, or whose login is older than ``SESSION_MAX_AGE``, finds itself
logged out and is asked to log in again. A session without the stamps (made before they
existed) ends too. Times come from :func:`sso.base.context.clock`, so tests move a
``ManualClock``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, flash, session
from flask_login import logout_user, user_logged_in

from sso.base import context

LOGIN_AT = "sso_login_at"
SEEN_AT = "sso_seen_at"
SEEN_RESOLUTION = 60  # seconds: how stale ``sso_seen_at`` may get before it is rewritten
ENDED_MESSAGE = "Your session has ended. Please log in again."


def _stamp_login(sender: Any, user: Any, **extra: Any) -> None:
    now = context.clock().time()
    session[LOGIN_AT] = session[SEEN_AT] = int(now)


def enforce_lifetimes() -> None:
    """Before every request: end a logged-in session that is idle or too old."""
    if "_user_id" not in session:
        return
    now = context.clock().time()
    config = current_app.config
    login_at, seen_at = session.get(LOGIN_AT), session.get(SEEN_AT)
    if (
        not isinstance(login_at, int)
        or not isinstance(seen_at, int)
        or now - seen_at >= int(config["SESSION_IDLE_TIMEOUT"])
        or now - login_at >= int(config["SESSION_MAX_AGE"])
    ):
        logout_user()
        session.clear()
        flash(ENDED_MESSAGE, "info")
        return
    if now - seen_at >= SEEN_RESOLUTION:
        session[SEEN_AT] = int(now)


def init_app(app: Flask) -> None:
    user_logged_in.connect(_stamp_login, app)
    app.before_request(enforce_lifetimes)
