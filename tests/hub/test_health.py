"""/healthz and /readyz."""

from __future__ import annotations

import pytest

from sso import create_app
from tests.conftest import PLUGINS


def test_healthz(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


@pytest.mark.parametrize("db_backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_readyz_ok(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["status"] == "ready"


def test_readyz_503_when_database_unreachable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app({
        "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 32, "PASSWORD_HASH_FAST": True,
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
    }, plugins=PLUGINS)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}
    assert "nobody" not in response.get_data(as_text=True)
    with app.app_context():
        from sso.base.db import db

        db.engine.dispose()
