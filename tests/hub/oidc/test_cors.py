"""CORS for browser apps (public clients, e.g. single-page apps): the token, userinfo and
revocation endpoints answer a page whose origin is one of an OIDC app's registered URIs,
and no other; no credentials are involved (the browser sends no cookie to them)."""

from __future__ import annotations

import httpx

from tests.hub.oidc.conftest import REDIRECT, LiveHub
from tests.hub.oidc.test_provider import start

APP_ORIGIN = "http://127.0.0.1:9"  # the origin of every test client's redirect URI
STRANGER = "https://evil.example"


def _preflight(hub: LiveHub, path: str, origin: str, method: str = "POST") -> httpx.Response:
    return httpx.options(hub.url + path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type"})


def test_preflight_for_a_registered_origin(live_hub: LiveHub) -> None:
    for path, method in (("/oidc/token", "POST"), ("/oidc/userinfo", "GET"), ("/oidc/revoke", "POST")):
        response = _preflight(live_hub, path, APP_ORIGIN, method)
        assert response.status_code == 200, path
        assert response.headers["access-control-allow-origin"] == APP_ORIGIN
        assert method in response.headers["access-control-allow-methods"]
        assert "authorization" in response.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in response.headers
        assert "Origin" in response.headers.get("vary", "")


def test_no_cors_for_an_origin_no_app_registered(live_hub: LiveHub) -> None:
    response = _preflight(live_hub, "/oidc/token", STRANGER)
    assert "access-control-allow-origin" not in response.headers
    assert "Origin" in response.headers.get("vary", "")


def test_a_single_page_app_redeems_its_code_and_reads_userinfo(live_hub: LiveHub) -> None:
    code, verifier = start(live_hub, live_hub.browser(), client_id="spa")
    token = httpx.post(live_hub.url + "/oidc/token", headers={"Origin": APP_ORIGIN}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier,
        "client_id": "spa"})
    assert token.status_code == 200 and token.headers["access-control-allow-origin"] == APP_ORIGIN
    info = httpx.get(live_hub.url + "/oidc/userinfo", headers={
        "Origin": APP_ORIGIN, "Authorization": f"Bearer {token.json()['access_token']}"})
    assert info.status_code == 200 and info.headers["access-control-allow-origin"] == APP_ORIGIN
    refused = httpx.get(live_hub.url + "/oidc/userinfo", headers={"Origin": APP_ORIGIN, "Authorization": "Bearer x"})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "WWW-Authenticate" in refused.headers["access-control-expose-headers"]
    stranger = httpx.get(live_hub.url + "/oidc/userinfo", headers={
        "Origin": STRANGER, "Authorization": f"Bearer {token.json()['access_token']}"})
    assert "access-control-allow-origin" not in stranger.headers


def test_a_disabled_apps_origin_is_dropped(live_hub: LiveHub) -> None:
    from sso.base.db import db
    from sso.connected_apps.service import get_app, update_connected_app

    with live_hub.app.app_context():  # type: ignore[attr-defined]
        for slug in ("helpdesk", "spa", "outside"):
            update_connected_app(get_app(slug), enabled=False)
        db.session.remove()
    response = _preflight(live_hub, "/oidc/token", APP_ORIGIN)
    assert "access-control-allow-origin" not in response.headers
