"""Login throttling: counts failed logins per client IP and per account, on the injected clock.

Pure: no Flask. Built on the public API of :mod:`limits` (limit strings, storages); the
login use case calls :meth:`LoginThrottle.check` before verifying a password, then
:meth:`LoginThrottle.failed` or :meth:`LoginThrottle.succeeded` after.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
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
    """Fixed-window counters of failed logins, one set per client IP and one per account key.

    ``ip_limits`` and ``account_limits`` are :mod:`limits` strings ("20 per minute; 100 per
    hour"); every limit applies to every key of its kind. ``storage_uri`` is ``memory://``
    (this process only) or ``redis://...``: a shared store makes every hub instance count
    together. Redis timeouts can be set in the URI (``?socket_timeout=2``).

    Windows come from the injected clock, not from the store: the counter key holds the
    window number ``int(clock.time() // window)``, and the entry expires after one window
    length so the store cleans itself up. A storage's own expiry runs on the real time of
    the store; keying on the window number makes ``ManualClock.advance`` move a test into a
    fresh window without sleeping, and makes instances that share a store agree on the
    boundaries (they are aligned to the epoch). An entry created at any moment of its
    window lives at least until the window ends, so no counter vanishes early. The price of
    fixed windows: up to twice a limit can fall on both sides of one boundary.

    A success clears the account counters of the current windows (the user has just proven
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
        waits = [
            _seconds_left(now, limit)
            for key, limit in self._counters(now, ip, account_keys)
            if self._call(self._storage.get, key) >= limit.amount
        ]
        if waits:
            # The attempt is refused until every blocking window has ended.
            raise Throttled(max(waits))

    def failed(self, ip: str, account_keys: Iterable[str]) -> None:
        """Count one failed attempt against ``ip`` and each of ``account_keys``."""
        now = self._clock.time()
        for key, limit in self._counters(now, ip, account_keys):
            self._call(self._storage.incr, key, limit.get_expiry())

    def succeeded(self, ip: str, account_keys: Iterable[str]) -> None:
        """Clear the current-window counters of ``account_keys``; the IP counters stay."""
        now = self._clock.time()
        for key, _limit in self._counters(now, None, account_keys):
            self._call(self._storage.clear, key)

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

    def _counters(self, now: float, ip: str | None, account_keys: Iterable[str]) -> list[tuple[str, RateLimitItem]]:
        """The storage key and limit of every counter for these identifiers at ``now``."""
        idents = [("ip", self._ip_limits, ip)] if ip is not None else []
        idents += [("account", self._account_limits, key) for key in dict.fromkeys(account_keys)]
        counters = []
        for kind, limits, ident in idents:
            digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
            for limit in limits:
                window = limit.get_expiry()
                key = f"{self._prefix}:{kind}:{limit.amount}/{window}:{int(now // window)}:{digest}"
                counters.append((key, limit))
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


def _seconds_left(now: float, limit: RateLimitItem) -> int:
    """Whole seconds from ``now`` until the end of ``limit``'s current window (at least 1)."""
    window = limit.get_expiry()
    end = (int(now // window) + 1) * window
    return max(1, math.ceil(end - now))
