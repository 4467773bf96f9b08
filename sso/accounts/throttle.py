"""Login throttling: counts failed logins per client IP and per account, on the injected clock.

Pure: no Flask. Built on the public API of :mod:`limits` (limit strings, storages); the
login use case calls :meth:`LoginThrottle.check` before verifying a password, then
:meth:`LoginThrottle.failed` or :meth:`LoginThrottle.succeeded` after.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from limits import RateLimitItem, parse_many
from limits.errors import ConcurrentUpdateError, ConfigurationError, StorageError
from limits.storage import Storage, storage_from_string

from sso.base.clock import Clock
from sso.base.errors import ConfigError, HubError

__all__ = ["LoginThrottle", "ThrottleUnavailable", "Throttled"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class Throttled(HubError):
    """Too many failed logins: ``retry_after`` is the number of seconds to wait."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        unit = "second" if retry_after == 1 else "seconds"
        super().__init__(f"Too many attempts. Please try again in {retry_after} {unit}.")


class ThrottleUnavailable(HubError):
    """The throttle's store cannot be reached, so logins are refused (the hub fails closed)."""

    status = 503
    default_message = "Signing in is temporarily unavailable. Please try again in a few minutes."


class LoginThrottle:
    """Sliding-window counters of failed logins, one set per client IP and one per account key.

    ``ip_limits`` and ``account_limits`` are :mod:`limits` strings ("20 per minute; 100 per
    hour"); every limit applies to every key of its kind. ``storage_uri`` is ``memory://``
    (this process only) or ``redis://...``: a shared store makes every hub instance count
    together. Redis timeouts can be set in the URI (``?socket_timeout=2``).

    Each limit counts failures in windows of its length, and a check weighs the previous
    window by the part of it that still lies within one window length of now (the "sliding
    window counter"): at 15 s into a minute, the last minute's failures count 45/60. So a
    limit holds over any window-long span, not just between fixed boundaries: five failures
    just before a minute boundary are not followed by five more just after it. Someone locked
    out regains one attempt at a time, at the limit's average rate.

    Windows come from the injected clock, not from the store: the counter key holds the
    window number ``int(clock.time() // window)``, and the entry expires after two window
    lengths (its own window and the next, where it is still weighed) so the store cleans
    itself up. A storage's own expiry runs on the real time of the store; keying on the
    window number makes ``ManualClock.advance`` move a test forward without sleeping, and
    makes instances that share a store agree on the boundaries (they are aligned to the
    epoch).

    A success clears the account counters (current and previous windows) (the user has just proven
    the password, so earlier typos should not lock the next login out); the IP counters are
    kept, as one address trying many accounts must not reset itself with one account it owns.

    The store being down raises :class:`ThrottleUnavailable` from every method: the hub fails
    closed for logins. A login page that cannot count failures would allow unlimited password
    guessing, and the shared store is exactly what makes the limit hold across instances.

    Identifiers are stored as SHA-256 digests: keys stay short and unambiguous, and the
    store never holds submitted text (people type passwords into the login field).
    """

    def __init__(
        self, storage_uri: str, ip_limits: str, account_limits: str, clock: Clock, *, prefix: str = "sso:login"
    ) -> None:
        self._ip_limits = _parse_limits("IP", ip_limits)
        self._account_limits = _parse_limits("account", account_limits)
        self._clock = clock
        self._prefix = prefix
        self._storage = _open_storage(storage_uri)
        self._storage_scheme = urlsplit(storage_uri).scheme

    def check(self, ip: str, account_keys: Iterable[str]) -> None:
        """Raise :class:`Throttled` if any counter of ``ip`` or ``account_keys`` is at or over
        its limit; change nothing."""
        now = self._clock.time()
        waits = []
        for counter in self._counters(now, ip, account_keys):
            previous = self._call(self._storage.get, counter.previous_key)
            current = self._call(self._storage.get, counter.key)
            wait = counter.wait(now, previous, current)
            if wait is not None:
                waits.append(wait)
        if waits:
            # The attempt is refused until every blocking counter has fallen under its limit.
            raise Throttled(max(waits))

    def failed(self, ip: str, account_keys: Iterable[str]) -> None:
        """Count one failed attempt against ``ip`` and each of ``account_keys``."""
        now = self._clock.time()
        for counter in self._counters(now, ip, account_keys):
            # Kept through the next window, where it is still weighed.
            self._call(self._storage.incr, counter.key, 2 * counter.window)

    def succeeded(self, ip: str, account_keys: Iterable[str]) -> None:
        """Clear the counters of ``account_keys``; the IP counters stay."""
        now = self._clock.time()
        for counter in self._counters(now, None, account_keys):
            self._call(self._storage.clear, counter.key)
            self._call(self._storage.clear, counter.previous_key)

    @property
    def shared(self) -> bool:
        """True when the counters live in a store outside this process (Redis)."""
        return self._storage_scheme != "memory"

    def reachable(self) -> bool:
        """True when the store answers (always, for the in-process store). Never raises."""
        try:
            return bool(self._storage.check())
        except Exception:  # a store that fails in any way is not reachable
            return False

    def claim_once(self, name: str, seconds: int) -> bool:
        """True the first time ``name`` is claimed within ``seconds`` (in the shared store, so
        every hub instance agrees); used to make WebAuthn challenges single use."""
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return bool(self._call(self._storage.incr, f"{self._prefix}:once:{digest}", seconds) == 1)

    def _counters(self, now: float, ip: str | None, account_keys: Iterable[str]) -> list[_Counter]:
        """Every counter for these identifiers at ``now``."""
        idents = [("ip", self._ip_limits, ip)] if ip is not None else []
        idents += [("account", self._account_limits, key) for key in dict.fromkeys(account_keys)]
        counters = []
        for kind, limits, ident in idents:
            digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
            for limit in limits:
                window = limit.get_expiry()
                number = int(now // window)
                stem = f"{self._prefix}:{kind}:{limit.amount}/{window}"
                counters.append(
                    _Counter(
                        key=f"{stem}:{number}:{digest}",
                        previous_key=f"{stem}:{number - 1}:{digest}",
                        amount=limit.amount,
                        window=window,
                    )
                )
        return counters

    @staticmethod
    def _call(method: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run a storage method; a store failure becomes :class:`ThrottleUnavailable`."""
        try:
            return method(*args, **kwargs)
        except (StorageError, ConcurrentUpdateError) as err:
            raise ThrottleUnavailable() from err


def _parse_limits(kind: str, text: str) -> list[RateLimitItem]:
    try:
        limits = parse_many(text)
    except ValueError as err:
        raise ConfigError(f"The login {kind} limit {text!r} is not a rate limit such as '5 per minute'.") from err
    if any(limit.amount < 1 for limit in limits):
        raise ConfigError(f"The login {kind} limit {text!r} must allow at least one attempt per window.")
    return limits


def _open_storage(uri: str) -> Storage:
    # The URI may hold a password: errors name its scheme only.
    scheme = urlsplit(uri).scheme
    try:
        storage = storage_from_string(uri, wrap_exceptions=True)
    except (ConfigurationError, ValueError) as err:
        reason = str(err).replace(uri, f"{scheme}://...")
        raise ConfigError(f"The login throttle store ({scheme}://...) cannot be used: {reason}") from err
    if not isinstance(storage, Storage):
        raise ConfigError(f"The login throttle needs a synchronous store, not {scheme}://.")
    return storage


@dataclass(frozen=True)
class _Counter:
    """One limit of one identifier: the storage keys of its current and previous windows."""

    key: str
    previous_key: str
    amount: int
    window: int

    def wait(self, now: float, previous: int, current: int) -> int | None:
        """Whole seconds until the weighted count falls under ``amount`` if no further failure
        is counted (at least 1), or None when it is under already."""
        window = self.window
        elapsed = now - (now // window) * window
        left = window - elapsed  # seconds until the current window ends
        if previous * left / window + current < self.amount:
            return None
        if current < self.amount:
            # The previous window's weight shrinks until the sum falls under the limit.
            seconds = left - (self.amount - current) * window / previous
        else:
            # In the next window the current count becomes the previous one, and shrinks.
            seconds = left + window * (1 - self.amount / current)
        return max(1, math.floor(seconds) + 1)  # strictly after the instant it falls under
