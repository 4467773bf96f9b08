"""The sign-on use cases: carry a logged-in user into a connected app.

* :func:`jump`: the top-menu button (the app's login URL template gets the token).
* :func:`service_initiated`: the app's own login, diverted to the hub (the token goes to
  the ``login_url`` the app sent, once it matches one of the app's registered login URLs
  exactly).

Each checks the app, the user and the user's access to the app (its groups,
:func:`sso.groups.require_access`), issues one token, records ``jump`` and returns the
``Location`` to send the browser to. A refused ``return_to`` or ``login_url`` is recorded
as ``redirect_refused``; refusals of anonymous visitors are aggregated (see
:func:`record_refusal`). Views only read the request and map the errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sso.audit import record, record_anonymous
from sso.base.errors import Conflict, Forbidden, ValidationError
from sso.base.redirects import match_login_url, safe_return_to

from ..connected_apps.service import IssuingApp, codec_for, note_issued
from ..groups import group_names, require_access
from .multipass import MultipassProtocol
from .protocol import SignOnProtocol

if TYPE_CHECKING:
    from ..accounts.models import User

PROTOCOLS: dict[str, SignOnProtocol] = {"multipass": MultipassProtocol(codec_for, groups_of=group_names)}


def _protocol(app: IssuingApp) -> SignOnProtocol:
    return PROTOCOLS["multipass"]


def check_usable(app: IssuingApp, user: User) -> None:
    """Raise Forbidden when the app is disabled or the user deactivated."""
    if not app.enabled:
        raise Forbidden(f"The app {app.name} is disabled at the moment. Ask IT.", title="App disabled")
    if not user.active:
        raise Forbidden("Your account is disabled. Ask an administrator.", title="Account disabled")


def record_refusal(app: IssuingApp, user: User | None, parameter: str, raw: str) -> None:
    """Record ``redirect_refused`` for a refused ``return_to`` or ``login_url``.

    A logged-in user's refusals are written one by one. Anonymous ones are written before
    any login check, so anyone can cause them: they go through
    :func:`sso.audit.record_anonymous` (at most one row per client IP and app a minute per
    worker; the next row counts the others in ``unrecorded_before``).
    """
    detail: dict[str, object] = {"parameter": parameter, "value": raw}
    if user is None:
        record_anonymous("redirect_refused", key=app.slug, app=app.slug, detail=detail)
        return
    record("redirect_refused", user=user, app=app.slug, detail=detail)


def kept_return_to(app: IssuingApp, raw: str | None, user: User | None) -> str | None:
    """``raw`` if it is a safe place on the app (or a relative path); else None, recorded."""
    if raw is None or raw == "":
        return None
    kept = safe_return_to(raw, app.allowed_origins)
    if kept is None:
        record_refusal(app, user, "return_to", raw)
    return kept


def checked_login_url(app: IssuingApp, raw: str, user: User | None) -> str:
    """The ``login_url`` an app sent, if it is exactly one of its registered login URLs;
    else ValidationError, recorded."""
    try:
        return match_login_url(raw, app.login_urls)
    except ValidationError as err:
        record_refusal(app, user, "login_url", raw)
        raise ValidationError(err.message, title="Address refused") from err


def _issue(user: User, app: IssuingApp, raw_return_to: str | None, *, login_url: str | None, flow: str) -> str:
    check_usable(app, user)
    require_access(user, app, flow=flow)  # outside the app's groups: 403 "Access denied", audited
    return_to = kept_return_to(app, raw_return_to, user)
    try:
        location = _protocol(app).issue(user, app, return_to, login_url=login_url)
    except ValidationError as err:  # no secret configured yet
        raise Conflict(err.message, title="App not ready") from err
    note_issued(app)
    record("jump", user=user, app=app.slug, detail={"flow": flow, "return_to": return_to})
    return location


def jump(user: User, app: IssuingApp, raw_return_to: str | None) -> str:
    """The Location of a top-menu jump for ``user`` into ``app`` (a fresh token in it)."""
    return _issue(user, app, raw_return_to, login_url=None, flow="jump")


def service_initiated(user: User, app: IssuingApp, login_url: str, raw_return_to: str | None) -> str:
    """The Location back to the app's checked ``login_url`` with a fresh token."""
    return _issue(user, app, raw_return_to, login_url=login_url, flow="service")
