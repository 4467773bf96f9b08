"""What a signed-in person (or one who forgot their password) can do alone: change the
password, prove they know it before removing a second factor, ask for a set-password mail."""

from __future__ import annotations

from flask import current_app

from sso.audit import record, register_events
from sso.base.db import transaction
from sso.base.errors import ValidationError
from sso.base.identity import normalize_key

from .mail import mailer
from .models import User
from .service import (
    LoginFailed,
    _check_password,
    _set_password,
    find_user,
    login_throttle,
    make_set_password_token,
    set_password_url,
)
from .sessions import start_session

__all__ = ["change_password", "check_current_password", "request_password_reset"]

register_events("password_check_failed")


class WrongCurrentPassword(ValidationError):
    default_message = "Your current password is not right."
    field = "current"


def check_current_password(user: User, current: object, *, ip: str, action: str) -> None:
    """Check that the signed-in ``user`` typed their current password before ``action`` (a
    password change, removing a second factor, new recovery codes): a session left open
    must not be enough to do it.

    Throttled like a login (the same per-account and per-IP counters: ``Throttled`` when over
    them); a wrong password counts as a failed attempt, is audited as
    ``password_check_failed`` with the action, and raises :class:`WrongCurrentPassword`.
    """
    keys = [f"user:{user.id}"]
    throttle = login_throttle()
    throttle.check(ip, keys)
    try:
        _check_password(user, current)
    except LoginFailed as err:
        throttle.failed(ip, keys)
        with transaction():
            record("password_check_failed", user=user, actor=user.login, detail={"action": action})
        raise WrongCurrentPassword() from err


def change_password(user: User, current: object, new: str, *, ip: str, user_agent: str | None) -> str:
    """Change ``user``'s password after checking the current one (:func:`check_current_password`).

    Every session of the user ends, the one making the change included; a new session is
    recorded for it, whose flask-login id is returned so the caller can keep it signed in.
    """
    check_current_password(user, current, ip=ip, action="password_change")
    with transaction():
        _set_password(user, new)
        record("password_changed", user=user, actor=user.login)
        login_id = start_session(user, ip=ip, user_agent=user_agent)
    return login_id


def request_password_reset(address: object, *, ip: str) -> None:
    """Mail a set-password link to the account with this e-mail address, if there is one.

    The caller answers the same whatever happens here: the mail is sent by a background
    worker, and an unknown or disabled address does the same look-up and no more. Throttled
    per client IP and per address (``Throttled`` when over the login limits).
    """
    text = address.strip()[:254] if isinstance(address, str) else ""
    keys = [f"reset:{normalize_key(text)}"]
    throttle = login_throttle()
    throttle.check(ip, keys)
    throttle.failed(ip, keys)  # every request counts: this page must not become a mail cannon
    user = find_user(text) if "@" in text else None
    send = mailer()
    ok = user is not None and user.active and send is not None and normalize_key(user.email) == normalize_key(text)
    if ok and user is not None and send is not None:
        link = set_password_url(make_set_password_token(user))
        send.send(user.email, "Set your password", _reset_body(user, link))
    with transaction():  # one audit row either way, so both answers cost the same
        record("password_reset_mail", user=user if ok else None, actor="(self-service)",
               detail={"sent": ok})


def _reset_body(user: User, link: str) -> str:
    seconds = int(current_app.config["SET_PASSWORD_MAX_AGE"])
    lasts = f"{seconds // 3600} hours" if seconds >= 7200 else f"{seconds // 60} minutes"
    return (
        f"Hello {user.display_name},\n\n"
        "someone (hopefully you) asked to set a new password for your account.\n"
        f"Open this link to choose one (it works once, for {lasts}):\n\n{link}\n\n"
        "If you did not ask for this, ignore this mail: your password stays as it is.\n"
    )
