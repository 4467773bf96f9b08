"""Several hub instances behind one load balancer: two gunicorn processes, one database.

Both instances get the same ``SSO_SECRET_KEY`` and ``SSO_APP_SECRETS_KEY``, one PostgreSQL
schema and one Redis (``SSO_REDIS_URL``). A session started on one instance works on the
other, the login rate limit is counted once for both, and logout on one ends the session
everywhere. Everything is provisioned through the public CLI, as IT would do it.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet

from examples.stack import postgres_schema
from sso.multipass import MultipassCodec
from tests.conftest import POSTGRES_URL, free_port
from tests.deploy.conftest import HubInstances, flask_cli, running

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

SLUG = "invoices"
APP_ORIGIN = "http://127.0.0.1:9"  # never contacted: the test only reads the redirect
PASSWORD = "ann-password-for-deploy"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
USER_AGENT = "deploy-test"  # flask-login "strong" protection binds the session to it


@pytest.fixture(scope="module")
def deploy_database_url(postgres_url: str) -> Iterator[str]:
    """A schema of its own beside the session's, so the CLI-made tables never meet the
    tables other tests create and drop in ``postgres_url``; dropped afterwards."""
    with postgres_schema(POSTGRES_URL, prefix="deploy_") as url:
        yield url


@pytest.fixture(scope="module")
def app_secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def hubs(deploy_database_url: str, redis_url: str, app_secret: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubInstances]:
    """Two hub instances on two free ports, provisioned through the CLI."""
    workdir = tmp_path_factory.mktemp("deploy")
    env = dict(os.environ)
    env.update(
        SSO_DATABASE_URL=deploy_database_url,
        SSO_REDIS_URL=redis_url,
        SSO_SECRET_KEY=secrets.token_urlsafe(32),
        SSO_APP_SECRETS_KEY=Fernet.generate_key().decode(),
        SSO_INSTANCE_PATH=str(workdir / "instance"),
        SSO_LOGIN_LIMIT_LOGIN="3 per minute",
        # The Redis key of a limit includes its amount: an unusual amount keeps this run's
        # per-IP counter (127.0.0.1) apart from other suites using the same Redis at once.
        SSO_LOGIN_LIMIT_IP="97 per minute",
    )
    flask_cli(["db", "upgrade"], env)
    flask_cli(["users", "create", "ann", "ann@example.com", "--name", "Ann Archer", "--password-stdin"],
              env, stdin=PASSWORD + "\n")
    flask_cli(["apps", "add", SLUG, "--name", "Invoices", "--login-url", f"{APP_ORIGIN}/login/multipass/{{token}}",
               "--origin", APP_ORIGIN, "--secret-stdin"], env, stdin=app_secret + "\n")
    instances = HubInstances(env=env, ports=[free_port(), free_port()], log_dir=workdir)
    yield from running(instances)


def _client(base_url: str, cookies: httpx.Cookies | None = None) -> httpx.Client:
    return httpx.Client(base_url=base_url, cookies=cookies, headers={"User-Agent": USER_AGENT}, timeout=30.0)


def _csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def _post_login(client: httpx.Client, login: str, password: str) -> httpx.Response:
    token = _csrf(client, "/login")
    return client.post("/login", data={"csrf_token": token, "login": login, "password": password, "next": ""})


def _log_in_on(base_url: str) -> httpx.Cookies:
    """Log ann in on one instance; return the cookies the browser would now hold."""
    with _client(base_url) as client:
        response = _post_login(client, "ann", PASSWORD)
        assert response.status_code == 302, response.text
        assert "/login" not in response.headers["location"]
        return httpx.Cookies(client.cookies)


def _jump(base_url: str, cookies: httpx.Cookies) -> httpx.Response:
    with _client(base_url, cookies) as client:
        return client.get(f"/sso/jump/{SLUG}")


def test_log_in_on_one_instance_jump_from_the_other(hubs: HubInstances, app_secret: str) -> None:
    cookies = _log_in_on(hubs.url(0))

    response = _jump(hubs.url(1), cookies)

    assert response.status_code == 302, hubs.logs()
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == APP_ORIGIN
    assert location.path.startswith("/login/multipass/")
    assert response.headers["cache-control"] == "no-store"
    token = unquote(location.path.removeprefix("/login/multipass/"))
    claims = MultipassCodec(app_secret).decode(token)
    assert (claims["login"], claims["email"], claims["name"]) == ("ann", "ann@example.com", "Ann Archer")


def test_without_a_session_the_other_instance_asks_for_login(hubs: HubInstances) -> None:
    response = _jump(hubs.url(1), httpx.Cookies())

    assert response.status_code == 302
    assert urlsplit(response.headers["location"]).path == "/login"


def test_login_failures_on_one_instance_count_on_the_other(hubs: HubInstances) -> None:
    # A login no other test run uses, so the shared per-login counter starts at zero.
    victim = "nobody-" + secrets.token_hex(6)
    with _client(hubs.url(0)) as one:
        for _ in range(3):
            assert _post_login(one, victim, "wrong-password").status_code == 401
    with _client(hubs.url(1)) as two:
        blocked = _post_login(two, victim, "wrong-password")
        other = _post_login(two, "nobody-" + secrets.token_hex(6), "wrong-password")

    assert blocked.status_code == 429, hubs.logs()
    assert "try again" in blocked.text.lower()
    assert other.status_code == 401  # the limit is per login: others still get their tries


def test_logout_on_one_instance_ends_the_session_on_the_other(hubs: HubInstances) -> None:
    cookies = _log_in_on(hubs.url(0))
    stolen = httpx.Cookies(cookies)  # a copy of the cookie, kept after logout
    assert _jump(hubs.url(1), cookies).headers["location"].startswith(APP_ORIGIN)

    with _client(hubs.url(0), cookies) as one:
        logout = one.post("/logout", data={"csrf_token": _csrf(one, "/")})
        assert logout.status_code == 200, logout.text

    response = _jump(hubs.url(1), stolen)
    assert response.status_code == 302
    assert urlsplit(response.headers["location"]).path == "/login"
