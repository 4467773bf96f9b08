"""Login, logout, session renewal, throttling, CSRF."""

from __future__ import annotations

import re

import pytest

from sso.audit.models import AuditEvent
from sso.base.db import db
from tests.conftest import HUB_USER_PASSWORD

BOTH = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
GENERIC = b"Login or password is incorrect."
# A CSRF token embeds the second it was made, so two pages a second apart differ only there.
_CSRF_VALUE = re.compile(rb'(data-csrf="|name="csrf_token" type="hidden" value=")[^"]*"')


def _without_csrf(page: bytes) -> bytes:
    return _CSRF_VALUE.sub(rb'\1"', page)


def _events(app, name: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == name)))


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
@pytest.mark.parametrize("identifier", ["ann", "ANN", " ann ", "ann@example.com", "Ann@Example.COM"])
def test_login_with_login_or_email(client, auth, identifier: str) -> None:  # type: ignore[no-untyped-def]
    response = auth.login(identifier)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and b"Ann Example" in home.data


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
@pytest.mark.parametrize(
    ("identifier", "password"),
    [("ann", "wrong-password"), ("nobody", "whatever-pass"), ("", "x"), ("ann", ""), ("ann", "x" * 5000)],
)
def test_failures_share_one_generic_message(app, client, auth, identifier: str, password: str) -> None:  # type: ignore[no-untyped-def]
    response = auth.login(identifier, password)
    assert response.status_code in {400, 401}
    assert client.get("/").status_code == 302  # still anonymous
    if identifier and 0 < len(password) <= 1024:
        assert GENERIC in response.data
        assert _events(app, "login_failed")


def test_unknown_user_and_wrong_password_look_alike(client, auth) -> None:  # type: ignore[no-untyped-def]
    a = auth.login("ann", "wrong-password")
    b = auth.login("nobody-here", "wrong-password")
    assert a.status_code == b.status_code == 401
    assert a.data.replace(b"ann", b"X") == b.data.replace(b"nobody-here", b"X")


def test_exactly_one_hash_per_attempt(app, client, auth, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    calls: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash, password):  # type: ignore[no-untyped-def]
            calls.append("verify")
            return super().verify(hash, password)

        def hash(self, password, *, salt=None):  # type: ignore[no-untyped-def]
            calls.append("hash")
            return super().hash(password, salt=salt)

    from sso.base.context import hub_state

    features = hub_state(app).features
    hasher, dummy = features["accounts.passwords"]
    counting = CountingHasher(time_cost=hasher.time_cost, memory_cost=hasher.memory_cost, parallelism=1)
    monkeypatch.setitem(features, "accounts.passwords", (counting, dummy))
    for identifier, password in [("nobody", "x"), ("ann", "wrong"), ("ann", HUB_USER_PASSWORD)]:
        calls.clear()
        auth.login(identifier, password)
        assert calls == ["verify"], identifier
        auth.logout()


def test_login_renews_the_session(client, auth) -> None:  # type: ignore[no-untyped-def]
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by-attacker"
    before = client.get_cookie("session").value
    auth.login()
    after = client.get_cookie("session").value
    assert after != before
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("_id")  # flask-login strong protection identifier


def test_logout_is_post_only_and_ends_the_session(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200
    cookie = client.get_cookie("session").value
    response = auth.logout()
    assert response.status_code == 200 and b"signed out" in response.data
    assert client.get("/").status_code == 302
    # Replaying the old session cookie does not bring the session back.
    client.set_cookie("session", cookie)
    assert client.get("/").status_code == 302


def test_next_parameter_is_checked(client, auth) -> None:  # type: ignore[no-untyped-def]
    assert auth.login(next="/sso/jump/x?return_to=/a").headers["Location"] == "/sso/jump/x?return_to=/a"
    auth.logout()
    assert auth.login(next="//evil.example/").headers["Location"] == "/"
    auth.logout()
    assert auth.login(next="https://evil.example/").headers["Location"] == "/"


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_disabled_account_answers_a_right_password_like_a_wrong_one(  # type: ignore[no-untyped-def]
    app, client, auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argon2 import PasswordHasher

    from sso.accounts.service import find_user, update_user

    with app.app_context():
        update_user(find_user("ann"), active=False)
    hashes: list[int] = []
    real_verify = PasswordHasher.verify

    def counting_verify(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        hashes.append(1)
        return real_verify(self, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    right, wrong, unknown = auth.login(), auth.login("ann", "wrong-password"), auth.login("nobody", "x" * 12)
    assert right.status_code == wrong.status_code == unknown.status_code == 401
    assert _without_csrf(right.data) == _without_csrf(wrong.data) and GENERIC in right.data and GENERIC in unknown.data
    assert b"disabled" not in right.data
    assert len(hashes) == 3  # one hash each, whatever the outcome
    assert client.get("/").status_code == 302
    # The audit log still tells the admin why.
    reasons = [event.detail.get("reason") for event in _events(app, "login_failed")]
    assert reasons == ["disabled", None, None]


def test_deactivation_ends_existing_sessions(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import find_user, update_user

    auth.login()
    assert client.get("/").status_code == 200
    with app.app_context():
        update_user(find_user("ann"), active=False)
    assert client.get("/").status_code == 302


def test_session_cookie_flags(client, auth) -> None:  # type: ignore[no-untyped-def]
    response = auth.login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.fixture
def limited_config(hub_config):  # type: ignore[no-untyped-def]
    hub_config.update(LOGIN_LIMIT_LOGIN="3 per minute", LOGIN_LIMIT_IP="6 per minute")
    return hub_config


def test_throttle_per_login_gives_429_with_retry_time(limited_config, app, client, auth) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        assert auth.login("ann", "wrong-password").status_code == 401
    response = auth.login("ANN", "wrong-password")  # same login, other case
    assert response.status_code == 429
    assert b"try again in" in response.data
    assert int(response.headers["Retry-After"]) > 0
    # Even the right password is refused while throttled...
    assert auth.login("ann", HUB_USER_PASSWORD).status_code == 429
    # ...but another login from the same IP still works.
    assert auth.login("admin", "admin-password-1").status_code == 302


def test_throttle_per_ip(limited_config, app, client, auth) -> None:  # type: ignore[no-untyped-def]
    for i in range(6):
        assert auth.login(f"user{i}", "wrong-password").status_code == 401
    assert auth.login("someone-else", "wrong-password").status_code == 429


def test_successful_logins_are_not_throttled(limited_config, app, client, auth) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        assert auth.login().status_code == 302
        auth.logout()


@pytest.fixture
def csrf_config(hub_config):  # type: ignore[no-untyped-def]
    hub_config["WTF_CSRF_ENABLED"] = True
    return hub_config


def test_csrf_is_required(csrf_config, app, client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/login", data={"login": "ann", "password": HUB_USER_PASSWORD})
    assert response.status_code == 400
    assert b"Traceback" not in response.data
    page = client.get("/login").data.decode()
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    ok = client.post("/login", data={"login": "ann", "password": HUB_USER_PASSWORD, "csrf_token": token})
    assert ok.status_code == 302
    # Logout without the token is refused and the session survives.
    refused = client.post("/logout")
    assert refused.status_code == 400 and b"Reload" in refused.data
    assert client.get("/").status_code == 200


def test_every_spelling_of_an_account_shares_its_counter_and_json_counts_nowhere(  # type: ignore[no-untyped-def]
    limited_config, app, client, auth
) -> None:
    # JSON bodies are refused before the login runs: they neither count nor share a key.
    for _ in range(5):
        assert client.post("/login", json={"login": "ann", "password": "x"}).status_code == 415
    assert auth.login("ann", "wrong-password").status_code == 401
    assert auth.login("ann@example.com", "wrong-password").status_code == 401
    assert auth.login(" Ann@Example.COM ", "wrong-password").status_code == 401
    for spelling in ("ann", "ann@example.com", "ANN"):
        assert auth.login(spelling, HUB_USER_PASSWORD).status_code == 429, spelling
    assert auth.login("admin", "admin-password-1").status_code == 302


def test_the_cursor_starts_where_there_is_something_to_type(client, auth) -> None:  # type: ignore[no-untyped-def]
    """An empty form starts on the login; with the login known (a wrong password, or an app
    asking a signed-in user to log in again) it starts on the password."""
    empty = client.get("/login").data
    assert re.search(rb'<input[^>]*autofocus[^>]*name="login"', empty)
    assert not re.search(rb'<input[^>]*autofocus[^>]*name="password"', empty)
    wrong = auth.login("ann", "wrong-password").data
    assert re.search(rb'<input[^>]*autofocus[^>]*name="password"', wrong)
    assert not re.search(rb'<input[^>]*autofocus[^>]*name="login"', wrong)
    auth.login()
    again = client.get("/login?again=1&next=/").data
    assert b'value="ann"' in again and re.search(rb'<input[^>]*autofocus[^>]*name="password"', again)
