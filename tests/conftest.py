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
from pathlib import Path

import pytest
import sqlalchemy as sa

import user_pairing.hub

POSTGRES_URL = os.environ.get("SSO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SSO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# The hub as wsgi.py builds it: with the pairing plugin.
PLUGINS = (user_pairing.hub,)


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


CHROMIUM = Path(os.environ.get("SSO_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's chromium driven by Playwright, one per test session (never a browser download).

    One Playwright instance serves the whole session: its sync API cannot run twice at once.
    """
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL to the real PostgreSQL, on a schema of its own, dropped afterwards.

    Each test session gets a fresh schema, so parallel runs and earlier runs never collide.
    """
    from examples.stack import postgres_schema

    schema = postgres_schema(POSTGRES_URL)
    try:
        url = schema.__enter__()
    except sa.exc.OperationalError as err:
        unavailable(f"PostgreSQL at {POSTGRES_URL} is unreachable: {err.orig}")
    try:
        yield url
    finally:
        schema.__exit__(None, None, None)


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


# -- hub fixtures (sso/) ------------------------------------------------------------------

HUB_ADMIN_PASSWORD = "admin-password-1"
HUB_USER_PASSWORD = "ann-password-1"


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """Which database the ``app`` fixture uses: ``sqlite`` unless a test parametrizes it
    (``@pytest.mark.parametrize("db_backend", ["sqlite", "postgres"], indirect=True)``)
    or ``SSO_TEST_HUB_DB=postgres`` runs the whole hub suite on PostgreSQL."""
    return getattr(request, "param", os.environ.get("SSO_TEST_HUB_DB", "sqlite"))


@pytest.fixture
def hub_config(tmp_path, db_backend: str, request: pytest.FixtureRequest) -> dict[str, object]:
    """Test configuration of the hub: fast hashing, CSRF off (one test turns it on)."""
    from cryptography.fernet import Fernet

    if db_backend == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "MFA_PEPPER": secrets.token_urlsafe(32),
        "APP_SECRETS_KEYS": [Fernet.generate_key().decode()],
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_FAST": True,
        "THROTTLE_STORAGE_URI": "memory://",
        "AUDIT_BUFFERED": "none",  # synchronous audit rows; tests/hub/audit/test_buffer.py covers buffering
    }


def clear_audit_log() -> None:
    """Fixtures call this after their setup: tests start with an empty audit log (the
    tests of each use case check what it records)."""
    from sso.base.db import db

    db.session.execute(sa.delete(db.metadata.tables["audit_events"]))
    db.session.commit()


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    """The hub's clock in tests: starts at the real time and moves only when a test says
    (``clock.advance(seconds)``), so nothing sleeps to wait for time to pass."""
    from sso.base.clock import ManualClock

    return ManualClock()


@pytest.fixture
def app(hub_config: dict[str, object], clock):  # type: ignore[no-untyped-def]
    """A hub app on an empty database (tables made with create_all), with two users:
    ``admin`` (administrator) and ``ann``, passwords HUB_ADMIN_PASSWORD / HUB_USER_PASSWORD.
    Its time is the ``clock`` fixture's."""
    from sso import create_app
    from sso.accounts.service import create_user
    from sso.base.db import db

    hub = create_app(dict(hub_config), plugins=PLUGINS, clock=clock)
    with hub.app_context():
        db.create_all()
        create_user("admin", "admin@example.com", "Ada Admin", admin=True, password=HUB_ADMIN_PASSWORD)
        create_user("ann", "ann@example.com", "Ann Example", password=HUB_USER_PASSWORD)
        clear_audit_log()
    yield hub
    from user_pairing.service import wait_for_all_refreshes

    wait_for_all_refreshes(hub)  # a pairing refresh in the background holds a connection
    with hub.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def runner(app):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


class AuthActions:
    """Log in and out through the real login and logout endpoints."""

    def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
        self._client = client

    def login(self, login: str = "ann", password: str = HUB_USER_PASSWORD, next: str = ""):  # type: ignore[no-untyped-def]
        return self._client.post("/login", data={"login": login, "password": password, "next": next})

    def login_admin(self):  # type: ignore[no-untyped-def]
        return self.login("admin", HUB_ADMIN_PASSWORD)

    def logout(self):  # type: ignore[no-untyped-def]
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:  # type: ignore[no-untyped-def]
    return AuthActions(client)


@pytest.fixture
def connected_app(app):  # type: ignore[no-untyped-def]
    """A connected app ``invoices`` on https://invoices.example with a generated secret;
    its registered login URL (service-initiated flow) is https://invoices.example/login.

    Returns ``(slug, plain_secret)``.
    """
    from sso.connected_apps.service import create_connected_app, set_secret

    with app.app_context():
        capp = create_connected_app(
            "invoices", "Invoices", "https://invoices.example/login/multipass/{token}",
            ["https://invoices.example"], logout_url="https://invoices.example/logout",
            login_urls=["https://invoices.example/login"],
        )
        plain = set_secret(capp)
        clear_audit_log()
    return "invoices", plain
