"""Signals the feature packages send and others subscribe to, without importing each other.

``sessions_ended`` is sent (after the commit) when every hub session of a user ended:
a logout at the hub, or the account deactivated. Receivers get ``user`` and ``reason``
(``"logout"`` or ``"deactivated"``); the OIDC provider tells the apps through
back-channel logout.
"""

from __future__ import annotations

from blinker import Namespace

__all__ = ["sessions_ended"]

_signals = Namespace()

sessions_ended = _signals.signal("sessions-ended")
