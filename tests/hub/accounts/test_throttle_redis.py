"""With SSO_REDIS_URL, the login limits live in Redis and are shared by hub instances."""

from __future__ import annotations

import secrets

import pytest

from sso import create_app
from sso.base.db import db
from tests.conftest import PLUGINS, AuthActions


@pytest.mark.redis
def test_two_instances_share_the_limit(hub_config, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import create_user

    config = {**hub_config, "THROTTLE_STORAGE_URI": redis_url, "LOGIN_LIMIT_LOGIN": "3 per minute",
              "THROTTLE_PREFIX": "t" + secrets.token_hex(4)}
    first = create_app(dict(config), plugins=PLUGINS)
    with first.app_context():
        db.create_all()
        create_user("ann", "ann@example.com", password="ann-password-1")
    second = create_app(dict(config), plugins=PLUGINS)
    one, two = AuthActions(first.test_client()), AuthActions(second.test_client())
    try:
        assert one.login("ann", "wrong-password").status_code == 401
        assert two.login("ann", "wrong-password").status_code == 401
        assert one.login("ann", "wrong-password").status_code == 401
        assert two.login("ann", "wrong-password").status_code == 429
    finally:
        with first.app_context():
            db.drop_all()
            db.engine.dispose()
        with second.app_context():
            db.engine.dispose()
