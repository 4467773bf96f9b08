"""What the jump's hot path skips, and what it still checks."""

from __future__ import annotations

from sso.base.extensions import _no_limit_applies
from tests.conftest import HUB_USER_PASSWORD


def test_rate_limits_are_skipped_only_where_none_applies(app) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context("/sso/jump/invoices"):
        assert _no_limit_applies() is True
    with app.test_request_context("/login", method="POST"):
        assert _no_limit_applies() is False
    with app.test_request_context("/sso/multipass/invoices"):
        assert _no_limit_applies() is True


def test_login_is_still_throttled(app, client) -> None:  # type: ignore[no-untyped-def]
    app.config["LOGIN_LIMIT_LOGIN"] = "2 per minute"
    codes = [client.post("/login", data={"login": "ann", "password": "wrong"}).status_code for _ in range(3)]
    assert codes[-1] == 429


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


def test_limiter_hooks_run_only_where_a_limit_applies(app, client, auth, connected_app) -> None:  # type: ignore[no-untyped-def]
    from sso.base.extensions import limiter

    def names(funcs):  # type: ignore[no-untyped-def]
        return {getattr(f, "__name__", "") for f in funcs}

    # Flask-Limiter's three hooks are all found and replaced by the wrappers...
    assert limiter._check_request_limit not in app.before_request_funcs[None]
    assert limiter._Limiter__release_context not in app.teardown_request_funcs[None]
    assert not any(getattr(f, "args", None) == (limiter,) for f in app.after_request_funcs[None])
    assert "limited_check" in names(app.before_request_funcs[None])
    assert "limited_inject" in names(app.after_request_funcs[None])
    assert "limited_release" in names(app.teardown_request_funcs[None])
    auth.login()
    assert client.get("/sso/jump/invoices").status_code == 302  # ...that let the jump through


def test_limited_login_still_gets_rate_limit_deductions_and_headers(app, client) -> None:  # type: ignore[no-untyped-def]
    """The after-request hook still runs on the login: only failed attempts are deducted
    (``deduct_when``), which happens there."""
    app.config["LOGIN_LIMIT_LOGIN"] = "2 per minute"
    for _ in range(3):
        assert client.post("/login", data={"login": "ann", "password": HUB_USER_PASSWORD}).status_code == 302
        client.post("/logout")
    assert client.post("/login", data={"login": "ann", "password": "wrong"}).status_code == 401
    assert client.post("/login", data={"login": "ann", "password": "wrong"}).status_code == 401
    assert client.post("/login", data={"login": "ann", "password": "wrong"}).status_code == 429
