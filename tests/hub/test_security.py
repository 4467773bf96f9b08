"""The response headers every hub response gets, and the NUL-byte refusal."""

from __future__ import annotations

import pytest
from flask import Response

from sso.security import set_headers


def test_every_page_gets_the_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/login")
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"  # an HTML page


def test_json_is_not_marked_no_store_by_default(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.mimetype == "application/json"
    assert "Cache-Control" not in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"


def test_headers_a_view_set_are_kept_except_the_referrer_policy(app) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context("/"):
        response = set_headers(Response("x", headers=[
            ("Content-Security-Policy", "default-src 'none'"),
            ("cache-control", "private"),  # any case
            ("Referrer-Policy", "unsafe-url"),
            ("Referrer-Policy", "origin"),
        ]))
    headers = response.headers
    assert headers.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert headers.getlist("Cache-Control") == ["private"]
    assert headers.getlist("Referrer-Policy") == ["no-referrer"]  # forced, and only once
    assert headers.getlist("X-Frame-Options") == ["DENY"]
    assert headers.getlist("X-Content-Type-Options") == ["nosniff"]


def test_nul_bytes_are_refused_in_path_query_and_form(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/login%00").status_code == 400
    assert client.get("/login?next=a%00b").status_code == 400
    assert client.get("/login?a%00=b").status_code == 400
    assert client.post("/login", data={"login": "ann\x00", "password": "x"}).status_code == 400


# -- trusted hosts ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "127.0.0.1.evil.example", "localhost.evil"])
def test_foreign_host_gets_a_400_page_without_base_url(client, auth, host: str) -> None:  # type: ignore[no-untyped-def]
    for url in ("/", "/login", "/static/style.css", "/no/such/page"):
        response = client.get(url, headers={"Host": host})
        assert response.status_code == 400, url
        assert b"not served at this address" in response.data and b"evil" not in response.data
    response = client.post("/login", data={"login": "ann", "password": "x"}, headers={"Host": host})
    assert response.status_code == 400


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:5000", "localhost:8000"])
def test_loopback_hosts_are_served_without_base_url(client, host: str) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/login", headers={"Host": host}).status_code == 200


@pytest.fixture
def public_config(hub_config):  # type: ignore[no-untyped-def]
    from sso.config import SETTINGS

    hub_config["BASE_URL"] = "https://sso.example.com"
    hub_config["EXTRA_TRUSTED_HOSTS"] = "login.example.org, .corp.example"
    trusted = next(s for s in SETTINGS if s.key == "TRUSTED_HOSTS")
    assert trusted.default.make(None, {"BASE_URL": hub_config["BASE_URL"],
                                       "EXTRA_TRUSTED_HOSTS": ["login.example.org", ".corp.example"]}) == [
        "sso.example.com", "login.example.org", ".corp.example"]
    return hub_config


def test_with_a_base_url_only_its_host_and_the_listed_ones_are_served(public_config, app, client) -> None:  # type: ignore[no-untyped-def]
    assert app.config["TRUSTED_HOSTS"] == ["sso.example.com", "login.example.org", ".corp.example"]
    for host in ("sso.example.com", "sso.example.com:443", "login.example.org", "a.corp.example"):
        assert client.get("/login", headers={"Host": host}, base_url=f"https://{host}").status_code == 200, host
    for host in ("localhost", "127.0.0.1", "evil.example", "sso.example.com.evil.example"):
        assert client.get("/login", headers={"Host": host}).status_code == 400, host


def test_links_are_built_from_the_base_url_not_the_host(public_config, app, client, auth) -> None:  # type: ignore[no-untyped-def]
    there = "https://login.example.org"
    client.post("/login", data={"login": "admin", "password": "admin-password-1"}, base_url=there)
    page = client.post("/admin/users/new", data={"login": "zoe", "email": "zoe@example.com"}, base_url=there)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "https://sso.example.com/set-password/" in text and "login.example.org/set-password" not in text


@pytest.mark.parametrize(("raw", "error"), [("https://x.example", "not a host name"), ("x.example/p", "not a host"),
                                             ("x.example:80", "not a host name"), ("[::1]", "IPv6")])
def test_trusted_hosts_variable_is_checked(tmp_path, raw: str, error: str) -> None:  # type: ignore[no-untyped-def]
    from sso.base.errors import ConfigError
    from sso.config import load_config

    with pytest.raises(ConfigError, match=error):
        load_config(tmp_path, environ={"SSO_TRUSTED_HOSTS": raw})
    cfg = load_config(tmp_path, environ={"SSO_TRUSTED_HOSTS": "A.example, .b.example", "SSO_BASE_URL": "http://S.example:8"})
    assert cfg["TRUSTED_HOSTS"] == ["s.example", "a.example", ".b.example"]
    assert load_config(tmp_path, environ={})["TRUSTED_HOSTS"] == ["localhost", "127.0.0.1"]


# -- HSTS -----------------------------------------------------------------------------------------


def test_hsts_only_over_https(client, app) -> None:  # type: ignore[no-untyped-def]
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    app.config["BASE_URL"] = "https://localhost"
    assert client.get("/login").headers["Strict-Transport-Security"] == "max-age=31536000"
    assert client.get("/healthz").headers["Strict-Transport-Security"] == "max-age=31536000"


def test_the_demo_stack_sets_the_base_url_so_its_links_and_host_check_agree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from examples.stack import Stack
    from sso.config import load_config

    stack = Stack(tmp_path, hub_port=5123)
    env = stack.hub_env()
    assert env["SSO_BASE_URL"] == stack.hub_url == "http://127.0.0.1:5123"
    cfg = load_config(tmp_path / "instance", environ=env)
    assert cfg["BASE_URL"] == stack.hub_url and cfg["TRUSTED_HOSTS"] == ["127.0.0.1"]
