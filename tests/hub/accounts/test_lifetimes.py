"""Hub session lifetimes: idle timeout and absolute lifetime, on the injected clock."""

from __future__ import annotations

MINUTE, HOUR = 60, 3600


def _logged_in(client) -> bool:  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert response.status_code in {200, 302}
    return response.status_code == 200


def test_defaults(app) -> None:  # type: ignore[no-untyped-def]
    assert app.config["SESSION_IDLE_TIMEOUT"] == 30 * MINUTE
    assert app.config["SESSION_MAX_AGE"] == 12 * HOUR


def test_idle_session_ends_after_the_idle_timeout(client, auth, clock, connected_app) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    for _ in range(4):  # used every 29 minutes: stays
        clock.advance(29 * MINUTE)
        assert _logged_in(client)
    clock.advance(30 * MINUTE)
    response = client.get("/sso/jump/invoices")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    page = client.get("/login").get_data(as_text=True)
    assert "Your session has ended. Please log in again." in page
    assert not _logged_in(client)
    auth.login()
    assert _logged_in(client)


def test_active_session_ends_at_its_absolute_lifetime(client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    for _ in range(35):  # every 20 minutes for 11 h 40 min
        clock.advance(20 * MINUTE)
        assert _logged_in(client)
    clock.advance(20 * MINUTE)  # 12 h after the login
    assert not _logged_in(client)


def test_lifetimes_follow_the_settings(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    app.config.update(SESSION_IDLE_TIMEOUT=5 * MINUTE, SESSION_MAX_AGE=HOUR)
    auth.login()
    clock.advance(4 * MINUTE)
    assert _logged_in(client)
    clock.advance(5 * MINUTE)
    assert not _logged_in(client)


def test_a_session_without_its_stamps_ends(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    with client.session_transaction() as session:
        session.pop("sso_login_at")
    assert not _logged_in(client)


def test_the_cookie_is_not_rewritten_on_every_request(client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    client.get("/")  # the first page stores the form's CSRF token in the session
    assert "Set-Cookie" not in client.get("/").headers
    clock.advance(2 * MINUTE)
    assert "Set-Cookie" in client.get("/").headers  # the idle stamp moves, about once a minute
    assert "Set-Cookie" not in client.get("/").headers
