"""Fixtures shared by the whole suite: the real services this machine runs.

PostgreSQL (127.0.0.1:5432, database ``test``) and Redis (127.0.0.1:6379) are used for
real. A test that needs one skips with the reason when it is unreachable, except under
``CI=true``, where it fails: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get("SSO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SSO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip locally, fail under CI: a missing service must not turn CI green."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under CI, a skipped test that needs a real service or the browser is a failure."""
    outcome = yield
    report = outcome.get_result()
    needs_service = any(
        next(item.iter_markers(name), None) is not None for name in ("browser", "postgres", "redis")
    )
    if in_ci() and report.skipped and needs_service and call.when in {"setup", "call"}:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true: {report.longrepr}"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL to the real PostgreSQL, on a schema of its own, dropped afterwards.

    Each test session gets a fresh schema, so parallel runs and earlier runs never collide.
    """
    engine = sa.create_engine(POSTGRES_URL)
    schema = "t_" + secrets.token_hex(6)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as err:
        engine.dispose()
        unavailable(f"PostgreSQL at {POSTGRES_URL} is unreachable: {err.orig}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of the real Redis server, checked reachable."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as err:
        unavailable(f"Redis at {REDIS_URL} is unreachable: {err}")
    finally:
        client.close()
    return REDIS_URL
