"""The login throttle: failed logins per IP and per account, sliding windows on the injected clock."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest
import redis
from limits.errors import StorageError
from limits.storage import RedisStorage

from sso.accounts.throttle import LoginThrottle, Throttled, ThrottleUnavailable
from sso.base.clock import ManualClock
from sso.base.errors import ConfigError, HubError
from tests.conftest import free_port

# An epoch second on an hour boundary (so on a minute boundary too): windows start here.
T0 = 1_800_000_000.0
assert T0 % 3600 == 0

MakeThrottle = Callable[..., LoginThrottle]


@pytest.fixture
def clock() -> ManualClock:
    """15 seconds into a minute (and into an hour) window."""
    return ManualClock(T0 + 15)


@pytest.fixture
def prefix() -> str:
    """A prefix of this test's own: parallel runs on the shared Redis never collide."""
    return "test-throttle:" + secrets.token_hex(8)


def _redis_keys(redis_url: str, prefix: str) -> dict[str, int]:
    """The throttle's keys under ``prefix`` in Redis, with their time-to-live in seconds."""
    client = redis.Redis.from_url(redis_url)
    try:
        return {key.decode(): client.ttl(key) for key in client.scan_iter(f"{RedisStorage.PREFIX}:{prefix}:*")}
    finally:
        client.close()


@pytest.fixture
def delete_keys(prefix: str) -> Iterator[list[str]]:
    """Register a Redis URL here to delete this test's keys from it afterwards."""
    urls: list[str] = []
    yield urls
    for url in urls:
        client = redis.Redis.from_url(url)
        try:
            for key in client.scan_iter(f"{RedisStorage.PREFIX}:{prefix}:*"):
                client.delete(key)
        finally:
            client.close()


@pytest.fixture(params=["memory://", pytest.param("redis", marks=pytest.mark.redis)])
def storage_uri(request: pytest.FixtureRequest, delete_keys: list[str]) -> str:
    """Every behaviour test runs on the in-process store and on the real Redis."""
    if request.param != "redis":
        return str(request.param)
    url = str(request.getfixturevalue("redis_url"))
    delete_keys.append(url)
    return url


@pytest.fixture
def make(storage_uri: str, clock: ManualClock, prefix: str) -> MakeThrottle:
    def make(ip_limits: str = "3 per minute", account_limits: str = "2 per minute") -> LoginThrottle:
        return LoginThrottle(storage_uri, ip_limits, account_limits, clock, prefix=prefix)

    return make


def test_ip_limit_is_reached_after_n_failures(make: MakeThrottle) -> None:
    throttle = make(ip_limits="3 per minute", account_limits="100 per minute")
    for n in range(3):
        throttle.check("10.0.0.1", [f"login:user{n}"])
        throttle.failed("10.0.0.1", [f"login:user{n}"])
    with pytest.raises(Throttled):
        throttle.check("10.0.0.1", ["login:someone-else"])
    throttle.check("10.0.0.2", ["login:someone-else"])


def test_account_limit_is_reached_after_n_failures_from_any_ip(make: MakeThrottle) -> None:
    throttle = make(ip_limits="100 per minute", account_limits="2 per minute")
    for n in range(2):
        throttle.check(f"10.0.0.{n}", ["user:42"])
        throttle.failed(f"10.0.0.{n}", ["user:42"])
    with pytest.raises(Throttled):
        throttle.check("10.0.0.99", ["user:42"])
    throttle.check("10.0.0.99", ["user:43"])


def test_spellings_the_caller_maps_to_one_account_share_its_counter(make: MakeThrottle) -> None:
    throttle = make(ip_limits="100 per minute", account_limits="2 per minute")
    account_of = {"ann": "user:42", "ANN": "user:42", "ann@example.com": "user:42", "bob": "user:43"}
    for ip, spelling in (("10.0.0.1", "ANN"), ("10.0.0.2", "ann@example.com")):
        throttle.failed(ip, [account_of[spelling]])
    with pytest.raises(Throttled):
        throttle.check("10.0.0.3", [account_of["ann"]])
    throttle.check("10.0.0.3", [account_of["bob"]])


def test_every_account_key_is_counted_and_checked(make: MakeThrottle) -> None:
    throttle = make(ip_limits="100 per minute", account_limits="2 per minute")
    throttle.failed("10.0.0.1", ["user:42", "login:ann"])
    throttle.failed("10.0.0.2", ["user:42", "login:ann"])
    with pytest.raises(Throttled):
        throttle.check("10.0.0.3", ["login:ann"])
    with pytest.raises(Throttled):
        throttle.check("10.0.0.3", ["user:42"])
    with pytest.raises(Throttled):
        throttle.check("10.0.0.3", ["user:43", "login:ann"])


def test_a_key_given_twice_counts_once(make: MakeThrottle) -> None:
    throttle = make(ip_limits="100 per minute", account_limits="2 per minute")
    throttle.failed("10.0.0.1", ["user:42", "user:42"])
    throttle.check("10.0.0.1", ["user:42"])
    throttle.failed("10.0.0.1", ["user:42"])
    with pytest.raises(Throttled):
        throttle.check("10.0.0.1", ["user:42"])


def test_check_counts_nothing(make: MakeThrottle) -> None:
    throttle = make(ip_limits="2 per minute", account_limits="2 per minute")
    throttle.failed("10.0.0.1", ["user:42"])
    for _ in range(10):
        throttle.check("10.0.0.1", ["user:42"])
    throttle.failed("10.0.0.1", ["user:42"])
    with pytest.raises(Throttled):
        throttle.check("10.0.0.1", ["user:42"])


def test_last_windows_failures_fade_out_over_the_next(make: MakeThrottle, clock: ManualClock) -> None:
    throttle = make(ip_limits="2 per minute", account_limits="2 per minute")
    throttle.failed("10.0.0.1", ["user:42"])
    throttle.failed("10.0.0.1", ["user:42"])
    clock.set(T0 + 59.999)
    with pytest.raises(Throttled):
        throttle.check("10.0.0.1", ["user:42"])
    clock.set(T0 + 60)  # the last minute still weighs in full
    with pytest.raises(Throttled):
        throttle.check("10.0.0.1", ["user:42"])
    clock.set(T0 + 75)  # 2 x 45/60 = 1.5
    throttle.check("10.0.0.1", ["user:42"])
    throttle.failed("10.0.0.1", ["user:42"])  # 2.5
    with pytest.raises(Throttled):
        throttle.check("10.0.0.1", ["user:42"])
    clock.set(T0 + 90)  # 2 x 30/60 + 1 = 2
    with pytest.raises(Throttled):
        throttle.check("10.0.0.1", ["user:42"])
    clock.set(T0 + 105)  # 2 x 15/60 + 1 = 1.5
    throttle.check("10.0.0.1", ["user:42"])
    clock.set(T0 + 180)  # two windows on, nothing weighs
    throttle.failed("10.0.0.1", ["user:42"])
    throttle.check("10.0.0.1", ["user:42"])


def test_a_burst_across_a_window_boundary_is_refused(make: MakeThrottle, clock: ManualClock) -> None:
    """Fixed windows let five failures just before a boundary be followed by five more just
    after it; here the limit holds over the two seconds around the boundary."""
    throttle = make(ip_limits="5 per minute", account_limits="100 per minute")
    accepted = 0
    for step in range(20):
        clock.set(T0 + 55 + step * 0.5)  # 55 s to 64.5 s: ten seconds around the boundary at 60
        try:
            throttle.check("10.0.0.1", [f"login:user{step}"])
        except Throttled:
            continue
        throttle.failed("10.0.0.1", [f"login:user{step}"])
        accepted += 1
    assert accepted == 6  # five, then one more as the first second of the last minute fades


def test_someone_locked_out_regains_attempts_at_the_limits_rate(make: MakeThrottle, clock: ManualClock) -> None:
    throttle = make(ip_limits="100 per minute", account_limits="5 per minute")
    for _ in range(5):
        throttle.failed("10.0.0.1", ["user:42"])
    accepted = []
    for second in range(15, 15 + 180):
        clock.set(T0 + second + 0.5)
        try:
            throttle.check("10.0.0.1", ["user:42"])
        except Throttled:
            continue
        throttle.failed("10.0.0.1", ["user:42"])
        accepted.append(second)
    gaps = [later - earlier for earlier, later in zip(accepted, accepted[1:], strict=False)]
    assert accepted[0] == 60 and all(gap >= 11 for gap in gaps)
    assert 12 <= len(accepted) <= 15  # about five a minute over the next three minutes


def test_retry_after_counts_to_the_end_of_the_window(make: MakeThrottle, clock: ManualClock) -> None:
    throttle = make(ip_limits="100 per minute", account_limits="2 per minute")
    clock.set(T0 + 15.3)
    throttle.failed("10.0.0.1", ["user:42"])
    throttle.failed("10.0.0.1", ["user:42"])
    with pytest.raises(Throttled) as caught:
        throttle.check("10.0.0.1", ["user:42"])
    assert caught.value.retry_after == 45
    assert caught.value.message == "Too many attempts. Please try again in 45 seconds."
    assert caught.value.status == 429 and isinstance(caught.value, HubError)
    clock.set(T0 + 58.5)
    with pytest.raises(Throttled) as caught:
        throttle.check("10.0.0.1", ["user:42"])
    assert caught.value.retry_after == 2
    clock.set(T0 + 59.5)
    with pytest.raises(Throttled) as caught:
        throttle.check("10.0.0.1", ["user:42"])
    assert caught.value.message == "Too many attempts. Please try again in 1 second."


def test_every_limit_of_a_key_counts_and_retry_after_waits_for_all_that_block(
    make: MakeThrottle, clock: ManualClock
) -> None:
    throttle = make(ip_limits="100 per minute", account_limits="2 per minute; 3 per hour")
    throttle.failed("10.0.0.1", ["user:42"])
    throttle.failed("10.0.0.1", ["user:42"])
    with pytest.raises(Throttled) as caught:
        throttle.check("10.0.0.1", ["user:42"])
    assert caught.value.retry_after == 46  # the minute blocks until just after 60 s; the hour (2 of 3) does not

    clock.set(T0 + 120)
    throttle.check("10.0.0.1", ["user:42"])
    throttle.failed("10.0.0.1", ["user:42"])
    with pytest.raises(Throttled) as caught:
        throttle.check("10.0.0.1", ["user:42"])
    assert caught.value.retry_after == 3600 - 120 + 1  # the hour blocks, the minute (1 of 2) does not

    throttle.failed("10.0.0.1", ["user:42"])
    with pytest.raises(Throttled) as caught:
        throttle.check("10.0.0.1", ["user:42"])
    # Both block; the hour's 4 of 3 falls under 3 a quarter of the way into the next hour.
    assert caught.value.retry_after == 3600 - 120 + 900 + 1
    clock.set(T0 + 3600 + 900)
    with pytest.raises(Throttled):
        throttle.check("10.0.0.1", ["user:42"])
    clock.set(T0 + 3600 + 901)
    throttle.check("10.0.0.1", ["user:42"])


def test_success_clears_the_account_counters_but_not_the_ip_counter(make: MakeThrottle, clock: ManualClock) -> None:
    throttle = make(ip_limits="3 per minute", account_limits="2 per minute")
    throttle.failed("10.0.0.1", ["user:42", "login:ann"])
    throttle.failed("10.0.0.1", ["user:42", "login:ann"])
    with pytest.raises(Throttled):
        throttle.check("10.0.0.2", ["user:42"])
    clock.set(T0 + 60)  # the failures are in the last window now, and weigh in full
    with pytest.raises(Throttled):
        throttle.check("10.0.0.2", ["user:42"])
    throttle.succeeded("10.0.0.1", ["user:42", "login:ann"])
    throttle.check("10.0.0.2", ["user:42", "login:ann"])
    throttle.failed("10.0.0.1", ["user:99"])
    with pytest.raises(Throttled):
        throttle.check("10.0.0.1", ["user:42"])


@pytest.mark.redis
def test_two_hub_instances_on_one_redis_count_together(redis_url: str, prefix: str, delete_keys: list[str]) -> None:
    delete_keys.append(redis_url)
    first = LoginThrottle(redis_url, "100 per minute", "3 per minute", ManualClock(T0 + 15), prefix=prefix)
    second = LoginThrottle(redis_url, "100 per minute", "3 per minute", ManualClock(T0 + 15), prefix=prefix)
    first.failed("10.0.0.1", ["user:42"])
    second.failed("10.0.0.2", ["user:42"])
    first.check("10.0.0.3", ["user:42"])
    first.failed("10.0.0.3", ["user:42"])
    with pytest.raises(Throttled):
        second.check("10.0.0.4", ["user:42"])
    other = LoginThrottle(redis_url, "100 per minute", "3 per minute", ManualClock(T0 + 15), prefix=prefix + "-x")
    other.check("10.0.0.4", ["user:42"])


@pytest.mark.redis
def test_redis_entries_expire_after_two_windows_and_hold_no_plain_identifier(
    redis_url: str, prefix: str, delete_keys: list[str]
) -> None:
    delete_keys.append(redis_url)
    throttle = LoginThrottle(redis_url, "5 per minute", "5 per minute; 9 per hour", ManualClock(T0 + 15), prefix=prefix)
    throttle.failed("10.0.0.1", ["ann@example.com"])
    keys = _redis_keys(redis_url, prefix)
    assert len(keys) == 3
    ttls = sorted(keys.values())
    assert 115 <= ttls[0] <= ttls[1] <= 120 and 7195 <= ttls[2] <= 7200
    assert not any("ann" in key or "10.0.0.1" in key for key in keys)


def test_unreachable_redis_raises_throttle_unavailable(prefix: str) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0?socket_connect_timeout=2"
    throttle = LoginThrottle(url, "5 per minute", "5 per minute", ManualClock(T0), prefix=prefix)
    for call in (throttle.check, throttle.failed, throttle.succeeded):
        with pytest.raises(ThrottleUnavailable) as caught:
            call("10.0.0.1", ["user:42"])
        assert caught.value.status == 503 and isinstance(caught.value, HubError)
        assert isinstance(caught.value.__cause__, StorageError)
        assert "Redis" not in caught.value.message and "127.0.0.1" not in caught.value.message


@pytest.mark.parametrize("ip_limits", ["lots per minute", "", "0 per minute"])
def test_bad_limits_are_config_errors(ip_limits: str) -> None:
    with pytest.raises(ConfigError):
        LoginThrottle("memory://", ip_limits, "5 per minute", ManualClock(T0))


@pytest.mark.parametrize("uri", ["nosuch://:s3cret@127.0.0.1/0", "async+memory://"])
def test_unusable_stores_are_config_errors_that_hide_the_uri(uri: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LoginThrottle(uri, "5 per minute", "5 per minute", ManualClock(T0))
    assert "s3cret" not in caught.value.message
