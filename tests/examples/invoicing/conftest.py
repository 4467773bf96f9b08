"""Fixtures for the invoicing app: a fresh app on its own SQLite file, a client, tokens.

Tokens are made with :class:`MultipassCodec` and the app's secret, exactly as the hub
makes them; the hub itself is not needed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from examples.invoicing import create_app, multipass
from examples.invoicing.db import db
from sso.multipass import MultipassCodec

SECRET = "new-secret-for-the-invoicing-app"
OLD_SECRET = "old-secret-for-the-invoicing-app"
OTHER_APP_SECRET = "secret-of-some-other-connected-app"
SCIM_TOKEN = "scim-token-0123456789abcdef"
HUB_URL = "http://127.0.0.1:5000"

AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    """Build apps with test settings (keyword arguments override them); all closed afterwards."""
    made: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "TESTING": True,
            "MULTIPASS_SECRETS": [SECRET],
            "HUB_URL": HUB_URL,
            "DATABASE_URL": f"sqlite:///{tmp_path / f'invoicing{len(made)}.sqlite3'}",
            "SECRET_KEY": "test session key, long enough",
            "SCIM_TOKEN": SCIM_TOKEN,
            "INSTANCE_PATH": str(tmp_path / "instance"),
        }
        config.update(overrides)
        app = create_app(config)
        made.append(app)
        return app

    yield factory
    for app in made:
        multipass.close(app)
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def codec() -> MultipassCodec:
    """Issues tokens the way the hub does for this app."""
    return MultipassCodec(SECRET)


@pytest.fixture
def token(codec: MultipassCodec) -> Callable[..., str]:
    """``token(login="ann", email=..., **claims)``: a fresh token for those claims."""

    def make(login: str = "ann", email: str = "ann@example.com", **claims: Any) -> str:
        # Like the hub: a random jti per token (so runs sharing a Redis never collide) and
        # this app's slug as the audience.
        body = {"login": login, "email": email, "jti": secrets.token_urlsafe(16), "aud": "invoices", **claims}
        return codec.encode({k: v for k, v in body.items() if v is not None})

    return make


def signed_in_login(client: FlaskClient) -> str | None:
    """The login shown in the top menu, or None when nobody is signed in (asks the real page)."""
    response = client.get("/invoices")
    if response.status_code != 200:
        return None
    text = response.get_data(as_text=True)
    start = text.index('id="current-user">') + len('id="current-user">')
    return text[start : text.index("</span>", start)]


def csrf_token(client: FlaskClient, path: str = "/invoices") -> str:
    """The CSRF token of a page's forms, read from the page like a browser would."""
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def add_account(app: Flask, login: str, email: str, active: bool = True) -> None:
    """Store an account directly, as an administrator of the invoicing app would."""
    from examples.invoicing.models import Account

    with app.app_context():
        db.session.add(Account.new(login, email, login.title(), active=active))
        db.session.commit()


def account_count(app: Flask) -> int:
    import sqlalchemy as sa

    from examples.invoicing.models import Account

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Account)) or 0
