"""Faults with real servers: Redis stopped and PostgreSQL gone during logins and jumps.

The hub must answer a clear 503 page while a dependency is down (never a 500, never a
token without its audit row), say which one in ``/readyz``, and recover by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from sso.audit import flush
from sso.audit.buffer import AuditBuffer
from sso.audit.models import AuditEvent
from sso.audit.service import close_buffer
from sso.base.context import hub_state
from sso.base.db import db
from tests.conftest import HUB_USER_PASSWORD, unavailable

from .faults import REDIS_SERVER, RedisServer, TcpRelay

UNAVAILABLE = b"temporarily unavailable"


def _assert_503_page(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503, response.status_code
    assert UNAVAILABLE in response.data and b"Traceback" not in response.data
    assert int(response.headers["Retry-After"]) > 0
    assert "Location" not in response.headers


def _jumps(app) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return len(list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == "jump"))))


# -- Redis (the login counters) ---------------------------------------------------------------------


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    if not REDIS_SERVER.exists():
        unavailable(f"{REDIS_SERVER} is missing (apt-get install redis-server)")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_config(hub_config, private_redis: RedisServer):  # type: ignore[no-untyped-def]
    hub_config.update(REDIS_URL=private_redis.url, THROTTLE_STORAGE_URI=private_redis.url + "?socket_timeout=2")
    return hub_config


@pytest.mark.redis
def test_redis_down_logins_get_503_jumps_go_on_and_it_recovers(  # type: ignore[no-untyped-def]
    redis_config, private_redis, app, client, auth, connected_app
) -> None:
    slug, _secret = connected_app
    assert client.get("/readyz").json == {"status": "ready", "database": "ok", "redis": "ok"}
    assert auth.login().status_code == 302
    private_redis.stop()
    # Logging in needs the shared counters: refused with a clear page (fail closed).
    other = app.test_client()
    for login, password in (("admin", "admin-password-1"), ("ann", "wrong-password"), ("nobody", "x")):
        response = other.post("/login", data={"login": login, "password": password})
        _assert_503_page(response)
        assert b"Signing in is temporarily unavailable" in response.data
    # A signed-in user still jumps: the hub issues tokens without Redis, each audited.
    jump = client.get(f"/sso/jump/{slug}")
    assert jump.status_code == 302 and jump.headers["Location"].startswith("https://invoices.example/")
    assert _jumps(app) == 1
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json == {"status": "unavailable", "database": "ok", "redis": "unreachable"}
    # Back by itself once the server is.
    private_redis.start()
    assert other.post("/login", data={"login": "admin", "password": "admin-password-1"}).status_code == 302
    assert client.get("/readyz").json == {"status": "ready", "database": "ok", "redis": "ok"}


# -- PostgreSQL ------------------------------------------------------------------------------------


@pytest.fixture
def relay(postgres_url: str) -> Iterator[TcpRelay]:
    url = sa.engine.make_url(postgres_url)
    proxy = TcpRelay((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def relayed_config(hub_config, postgres_url: str, relay: TcpRelay):  # type: ignore[no-untyped-def]
    """The hub on PostgreSQL through the relay, jump rows written in their request."""
    url = sa.engine.make_url(postgres_url).set(port=relay.port)
    hub_config["SQLALCHEMY_DATABASE_URI"] = url.update_query_dict({"connect_timeout": "3"}).render_as_string(
        hide_password=False)
    hub_config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    return hub_config


@pytest.mark.postgres
def test_database_down_gives_503_everywhere_and_it_recovers(  # type: ignore[no-untyped-def]
    relayed_config, relay: TcpRelay, app, client, auth, connected_app
) -> None:
    slug, _secret = connected_app
    assert auth.login().status_code == 302
    assert client.get(f"/sso/jump/{slug}").status_code == 302
    relay.stop()  # the database goes away: every open connection is cut, new ones refused
    _assert_503_page(client.get("/"))
    _assert_503_page(client.get(f"/sso/jump/{slug}"))
    _assert_503_page(client.get(f"/sso/multipass/{slug}?login_url=https://invoices.example/login"))
    _assert_503_page(app.test_client().post("/login", data={"login": "ann", "password": HUB_USER_PASSWORD}))
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json == {"status": "unavailable", "database": "unreachable"}
    relay.start()
    assert client.get("/").status_code == 200  # the same session, no new login needed
    assert client.get(f"/sso/jump/{slug}").status_code == 302
    assert client.get("/readyz").json == {"status": "ready", "database": "ok"}
    assert _jumps(app) == 2  # the two tokens that left, and only those


@pytest.mark.postgres
def test_buffered_jump_rows_wait_out_a_database_outage(  # type: ignore[no-untyped-def]
    relayed_config, relay: TcpRelay, app, client, auth, connected_app
) -> None:
    """With the default buffering of jump rows, a token whose row was still queued when the
    database went away gets its row once the database is back."""
    slug, _secret = connected_app
    app.config["AUDIT_BUFFERED"] = frozenset({"jump"})
    with app.app_context():
        buffer = AuditBuffer(db.engine, AuditEvent.__table__, interval=60)  # only flush() writes
    hub_state(app).features["audit.buffer"] = buffer
    try:
        assert auth.login().status_code == 302
        assert client.get(f"/sso/jump/{slug}").status_code == 302  # the token left; its row is queued
        relay.stop()
        with app.app_context():
            assert flush() == 0  # cannot be written now ...
        assert buffer.pending == 1  # ... and is kept
        relay.start()
        with app.app_context():
            assert flush() == 1
        assert _jumps(app) == 1
    finally:
        close_buffer(app)


@pytest.fixture
def named_config(hub_config, postgres_url: str):  # type: ignore[no-untyped-def]
    """The hub on PostgreSQL with its own application_name, so a test can find its backends."""
    import secrets

    name = "hub-faults-" + secrets.token_hex(4)
    url = sa.engine.make_url(postgres_url).update_query_dict({"application_name": name})
    hub_config["SQLALCHEMY_DATABASE_URI"] = url.render_as_string(hide_password=False)
    hub_config["APPLICATION_NAME_FOR_TEST"] = name
    return hub_config


@pytest.mark.postgres
def test_backends_terminated_under_load(named_config, app, auth, connected_app, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    """Jumps from 4 threads while every connection of the hub is killed, again and again:
    each answer is a token (with its audit row) or a 503, never a 500; then all is well."""
    slug, _secret = connected_app
    clients = [app.test_client() for _ in range(4)]
    for one in clients:
        assert one.post("/login", data={"login": "ann", "password": HUB_USER_PASSWORD}).status_code == 302
    statuses: list[int] = []
    tokens = 0
    lock = threading.Lock()
    stop = threading.Event()

    def load(one) -> None:  # type: ignore[no-untyped-def]
        nonlocal tokens
        while not stop.is_set():
            response = one.get(f"/sso/jump/{slug}")
            with lock:
                statuses.append(response.status_code)
                if response.status_code == 302 and "invoices.example" in response.headers["Location"]:
                    tokens += 1

    threads = [threading.Thread(target=load, args=(one,)) for one in clients]
    for thread in threads:
        thread.start()
    admin = sa.create_engine(postgres_url)
    killed = 0
    try:
        with admin.connect() as conn:
            for _ in range(40):
                killed += conn.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :n"
                ), {"n": app.config["APPLICATION_NAME_FOR_TEST"]}).scalar_one()
                conn.commit()
                stop.wait(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        admin.dispose()
    assert killed > 0 and len(statuses) > 40
    assert set(statuses) <= {302, 503}, sorted(set(statuses))
    assert _jumps(app) == tokens  # no token left without its audit row
    for one in clients:
        assert one.get(f"/sso/jump/{slug}").status_code == 302
