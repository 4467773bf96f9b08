"""A hub under a real HTTP server on loopback, with OIDC clients registered through the use cases."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from werkzeug.serving import make_server

from tests.conftest import HUB_USER_PASSWORD, PLUGINS, clear_audit_log, free_port

REDIRECT = "http://127.0.0.1:9/callback"  # nothing listens: the tests read the Location header
POST_LOGOUT = "http://127.0.0.1:9/signed-out"


@dataclass
class LiveHub:
    url: str
    app: object
    clock: object
    confidential_secret: str

    def browser(self) -> httpx.Client:
        """A cookie-keeping client logged in as ann."""
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=10)
        response = client.post("/login", data={"login": "ann", "password": HUB_USER_PASSWORD})
        assert response.status_code == 302, response.text
        return client


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def live_hub(hub_config, clock) -> Iterator[LiveHub]:  # type: ignore[no-untyped-def]
    from sso import create_app
    from sso.accounts.service import create_user
    from sso.base.db import db
    from sso.oidc.service import add_client

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    hub = create_app({**hub_config, "BASE_URL": url}, plugins=PLUGINS, clock=clock)
    with hub.app_context():
        db.create_all()
        create_user("admin", "admin@example.com", "Ada Admin", admin=True, password="admin-password-1")
        create_user("ann", "ann@example.com", "Ann Example", password=HUB_USER_PASSWORD)
        _app, secret = add_client("helpdesk", "Helpdesk", [REDIRECT], post_logout_redirect_uris=[POST_LOGOUT],
                                  refresh_tokens=True)
        add_client("spa", "Single page", [REDIRECT], public=True, refresh_tokens=True, id_token_alg="ES256",
                   post_logout_redirect_uris=[POST_LOGOUT])
        add_client("outside", "Outside Tool", [REDIRECT], secret="outside-secret-0123456789", first_party=False)
        clear_audit_log()
    server = make_server("127.0.0.1", port, hub, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert secret is not None
        yield LiveHub(url=url, app=hub, clock=clock, confidential_secret=secret)
    finally:
        server.shutdown()
        thread.join(5)
        with hub.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
