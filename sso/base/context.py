"""The hub's per-app state: one typed object in ``app.extensions["sso"]``.

Created once by the app factory (:func:`init_app`, which refuses a second registration,
as flask-multipass does); the features read it through :func:`hub_state`, :func:`clock`
and :func:`now` instead of module globals, so a test that builds an app with its own
:class:`~sso.base.clock.ManualClock` moves time for caches, links, audit stamps and
throttling windows at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app

from .clock import Clock, SystemClock

__all__ = ["HubState", "clock", "hub_state", "init_app", "now"]

_KEY = "sso"


@dataclass
class HubState:
    """What the hub keeps per app: its clock, and one slot per feature package.

    ``features`` maps a package's name (``"connected_apps"``, ``"audit"``, ...) to that
    package's own state object (caches, buffers); each package owns and types its slot.
    """

    clock: Clock = field(default_factory=SystemClock)
    features: dict[str, Any] = field(default_factory=dict)


def init_app(app: Flask, clock: Clock | None = None) -> HubState:
    """Attach a fresh :class:`HubState` to ``app``; a second call is a programming error."""
    if _KEY in app.extensions:
        raise RuntimeError("the hub state is already registered on this app")
    state = HubState(clock=clock or SystemClock())
    app.extensions[_KEY] = state
    return state


def hub_state(app: Flask | None = None) -> HubState:
    """The :class:`HubState` of ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    state: HubState = target.extensions[_KEY]
    return state


def clock(app: Flask | None = None) -> Clock:
    """The clock of ``app`` (default: the current app)."""
    return hub_state(app).clock


def now(app: Flask | None = None) -> datetime:
    """The current time (aware, UTC) by the app's clock."""
    return hub_state(app).clock.now()
