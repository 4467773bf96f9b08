"""The response headers every hub response gets, and the NUL-byte refusal."""

from __future__ import annotations

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
