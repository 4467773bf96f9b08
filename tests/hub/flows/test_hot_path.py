"""What the jump's hot path keeps, and that only the login is throttled."""

from __future__ import annotations

from tests.conftest import HUB_USER_PASSWORD


def test_login_is_throttled_and_the_jump_is_not(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    app.config["LOGIN_LIMIT_IP"] = "2 per minute"
    codes = [client.post("/login", data={"login": "nobody", "password": "wrong"}).status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    app.config["LOGIN_LIMIT_IP"] = "20 per minute"
    auth.login()
    assert [client.get("/sso/jump/invoices").status_code for _ in range(30)] == [302] * 30


def test_jump_response_keeps_its_protections(client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    response = client.get("/sso/jump/invoices")
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Pragma"] == "no-cache"
    assert response.data == b""  # the token is in the Location header only, not in a page
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert client.get("/sso/jump/invoices?x=%00").status_code == 400
    assert client.post("/logout", data={"x": "\x00"}).status_code == 400


def test_only_failed_logins_count(app, client) -> None:  # type: ignore[no-untyped-def]
    """Successful logins are not counted; failures are, up to the limit, then 429."""
    app.config["LOGIN_LIMIT_LOGIN"] = "2 per minute"
    for _ in range(3):
        assert client.post("/login", data={"login": "ann", "password": HUB_USER_PASSWORD}).status_code == 302
        client.post("/logout")
    assert client.post("/login", data={"login": "ann", "password": "wrong"}).status_code == 401
    assert client.post("/login", data={"login": "ann", "password": "wrong"}).status_code == 401
    refused = client.post("/login", data={"login": "ann", "password": "wrong"})
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Too many attempts" in refused.get_data(as_text=True)
