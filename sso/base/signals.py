"""Signals the feature packages send and others subscribe to, without importing each other.

``sessions_ended`` is sent (after the commit) when hub sessions of a user ended: a logout,
"sign out this session" or "everywhere" on the account page, a password change or reset,
or the account deactivated. Receivers get ``user``, ``reason`` (``"logout"``,
``"signed_out"``, ``"everywhere"``, ``"password"`` or ``"deactivated"``) and
``session_id``: the one hub session that ended, or None when every session of the user
ended. The OIDC provider tells the apps signed in from those sessions (back-channel logout).
"""

from __future__ import annotations

from blinker import Namespace

__all__ = ["sessions_ended"]

_signals = Namespace()

sessions_ended = _signals.signal("sessions-ended")
