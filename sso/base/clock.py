"""The injectable clock: every "now" the hub uses comes from one of these.

The hub holds one :class:`Clock` per app (``create_app(..., clock=...)``, default
:class:`SystemClock`); caches, set-password links, audit stamps and throttling windows
read it, so a test moves time with :class:`ManualClock` instead of sleeping.
Pure: no Flask.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock", "utcnow"]


@runtime_checkable
class Clock(Protocol):
    """A source of the current time."""

    def time(self) -> float:
        """Seconds since the epoch (as :func:`time.time`)."""
        ...

    def now(self) -> datetime:
        """The current time, timezone-aware, UTC."""
        ...


class SystemClock:
    """The real time."""

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told: ``advance(seconds)`` or ``set(timestamp)``."""

    def __init__(self, start: float | datetime | None = None) -> None:
        if isinstance(start, datetime):
            start = (start if start.tzinfo else start.replace(tzinfo=UTC)).timestamp()
        self._now = time.time() if start is None else float(start)
        self._lock = threading.Lock()

    def time(self) -> float:
        return self._now

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._now, UTC)

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward (or back, if negative)."""
        with self._lock:
            self._now += seconds

    def set(self, timestamp: float) -> None:
        """Put the clock at ``timestamp`` (epoch seconds)."""
        with self._lock:
            self._now = float(timestamp)


def utcnow() -> datetime:
    """The real time, timezone-aware UTC: model column defaults only. Use cases that
    stamp something a test may pin read the app's clock instead."""
    return datetime.now(UTC)
