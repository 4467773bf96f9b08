"""The secret-states migration turns the old current/previous/retired rows into states and
registers the default login URLs, on SQLite and PostgreSQL, and goes back down."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from sso import create_app
from sso.base.db import db
from tests.conftest import PLUGINS

BEFORE = "b7c1d2e3f4a5"
NOW = "2026-11-01 10:00:00+00:00"


def _run(url: str, tmp_path: Path) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "k" * 32, "PASSWORD_HASH_FAST": True}, plugins=PLUGINS)
    with app.app_context():
        upgrade(revision=BEFORE)
        with db.engine.begin() as conn:
            for app_id, slug, template in ((1, "inv", "https://inv.example/login/multipass/{token}"),
                                           (2, "crm", "https://CRM.example:443/login?lang=en&multipass={token}")):
                conn.execute(sa.text(
                    "INSERT INTO connected_apps (id, slug, name, login_url_template, allowed_origins, token_lifetime,"
                    " enabled, created_at, updated_at) VALUES (:id, :slug, :slug, :t, '[]', 900, true, :now, :now)"
                ), {"id": app_id, "slug": slug, "t": template, "now": NOW})
            rows = [  # id, app, is_current, retired
                (1, 1, False, True), (2, 1, False, False), (3, 1, False, False), (4, 1, True, False),
                (5, 2, True, False),
            ]
            for sid, app_id, current, retired in rows:
                conn.execute(sa.text(
                    "INSERT INTO app_secrets (id, app_id, encrypted_value, is_current, created_at, retired_at)"
                    " VALUES (:id, :app, 'x', :cur, :now, :ret)"
                ), {"id": sid, "app": app_id, "cur": current, "now": NOW, "ret": NOW if retired else None})
        upgrade()
        with db.engine.connect() as conn:
            states = dict(conn.execute(sa.text("SELECT id, state FROM app_secrets")).all())
            assert states == {1: "retired", 2: "retired", 3: "previous", 4: "active", 5: "active"}
            retired_at = dict(conn.execute(sa.text("SELECT id, retired_at FROM app_secrets")).all())
            assert retired_at[2] is not None and retired_at[3] is None
            urls = {slug: value for slug, value in conn.execute(sa.text("SELECT slug, login_urls FROM connected_apps"))}
        decoded = {k: (v if isinstance(v, list) else __import__("json").loads(v)) for k, v in urls.items()}
        assert decoded == {"inv": [], "crm": ["https://crm.example/login?lang=en"]}
        downgrade(revision=BEFORE)
        with db.engine.connect() as conn:
            current = dict(conn.execute(sa.text("SELECT id, is_current FROM app_secrets")).all())
            assert {k for k, v in current.items() if v} == {4, 5}
        db.engine.dispose()


def test_secret_states_migration_on_sqlite(tmp_path: Path) -> None:
    _run(f"sqlite:///{tmp_path / 'm.sqlite3'}", tmp_path)


@pytest.mark.postgres
def test_secret_states_migration_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    schema = "m_" + secrets.token_hex(5)
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.engine.make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        _run(url.render_as_string(hide_password=False), tmp_path)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
