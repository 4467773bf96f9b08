"""Single use through a shared replay store: SQL (SQLite, PostgreSQL) or Redis; down means 503."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from examples.invoicing.db import db
from tests.conftest import free_port

from .conftest import AppFactory, signed_in_login

Token = Callable[..., str]
INVALID = "This sign-in link is invalid, expired or was already used"


def two_workers(make_app: AppFactory, **config: object) -> tuple[object, object]:
    """Two app instances on the same settings, as two gunicorn workers would be."""
    return make_app(**config), make_app(**config)


def test_sql_store_on_sqlite_is_shared_by_workers(make_app: AppFactory, tmp_path: Path, token: Token) -> None:
    first, second = two_workers(make_app, DATABASE_URL=f"sqlite:///{tmp_path / 'shared.sqlite3'}")
    used = token()
    assert first.test_client().get("/login?multipass=" + used).status_code == 302  # type: ignore[attr-defined]
    response = second.test_client().get("/login?multipass=" + used)  # type: ignore[attr-defined]
    assert response.status_code == 400 and INVALID in response.get_data(as_text=True)
    with first.app_context():  # type: ignore[attr-defined]
        assert db.session.scalar(sa.text("SELECT count(*) FROM multipass_used_tokens")) == 1


def test_sql_store_unavailable_gives_503_and_no_session(make_app: AppFactory, token: Token) -> None:
    app = make_app()
    with app.app_context():
        db.session.execute(sa.text("DROP TABLE multipass_used_tokens"))
        db.session.commit()
    client = app.test_client()
    response = client.get("/login?multipass=" + token())
    assert response.status_code == 503
    assert "cannot check sign-in links right now" in response.get_data(as_text=True)
    assert signed_in_login(client) is None


@pytest.mark.postgres
def test_sql_store_on_postgresql(make_app: AppFactory, postgres_url: str, token: Token) -> None:
    first, second = two_workers(make_app, DATABASE_URL=postgres_url)
    used = token()
    client = first.test_client()  # type: ignore[attr-defined]
    assert client.get("/login?multipass=" + used).status_code == 302
    assert signed_in_login(client) == "ann"
    assert second.test_client().get("/login?multipass=" + used).status_code == 400  # type: ignore[attr-defined]


@pytest.mark.redis
def test_redis_store_is_shared_by_workers(make_app: AppFactory, redis_url: str, token: Token) -> None:
    first, second = two_workers(make_app, REDIS_URL=redis_url)
    used = token()
    client = first.test_client()  # type: ignore[attr-defined]
    assert client.get("/login?multipass=" + used).status_code == 302
    assert signed_in_login(client) == "ann"
    assert second.test_client().get("/login?multipass=" + used).status_code == 400  # type: ignore[attr-defined]
    with first.app_context():  # type: ignore[attr-defined]
        # Redis is the store: no SQL table was even created.
        assert not sa.inspect(db.engine).has_table("multipass_used_tokens")


def test_redis_store_unreachable_gives_503(make_app: AppFactory, token: Token) -> None:
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    client = app.test_client()
    response = client.get("/login?multipass=" + token())
    assert response.status_code == 503
    assert signed_in_login(client) is None
