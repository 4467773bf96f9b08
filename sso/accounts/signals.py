"""Signals other packages subscribe to, so the hub never has to know them (blinker).

:data:`accounts_changed` is sent INSIDE the use case's transaction, after the change is
flushed and before the commit: a subscriber that adds rows to ``db.session`` (e.g. an outbox
of changes to push to connected apps) commits with the change or rolls back with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from blinker import Namespace

__all__ = ["AccountChange", "ChangeKind", "accounts_changed"]

ChangeKind = Literal["created", "changed", "deactivated", "reactivated"]

_signals = Namespace()

#: ``accounts_changed.send(flask_app, changes=[AccountChange, ...])``: hub users were created,
#: changed (login, e-mail, name), deactivated or reactivated. Sent inside the transaction.
accounts_changed = _signals.signal("accounts-changed")


@dataclass(frozen=True)
class AccountChange:
    """One hub user changed. ``fields`` names what changed; ``old_login`` is the login the user
    had before this change (for a renamed user the connected apps still know the old one)."""

    user_id: int
    kind: ChangeKind
    fields: tuple[str, ...] = ()
    old_login: str | None = None
