"""The Alembic migrations build the same tables as the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from sso import create_app
from sso.base.db import db
from tests.conftest import PLUGINS

ROOT = Path(__file__).resolve().parents[2]


def _tables_and_columns(engine: sa.Engine) -> dict[str, set[str]]:
    inspector = sa.inspect(engine)
    return {
        t: {c["name"] for c in inspector.get_columns(t)}
        for t in inspector.get_table_names()
        if t != "alembic_version"
    }


def _expected() -> dict[str, set[str]]:
    return {t.name: {c.name for c in t.columns} for t in db.metadata.sorted_tables}


def _migrate(url: str, tmp_path: Path) -> dict[str, set[str]]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "k" * 32, "PASSWORD_HASH_FAST": True}, plugins=PLUGINS)
    with app.app_context():
        upgrade()
        found = _tables_and_columns(db.engine)
        expected = _expected()
        db.engine.dispose()
    return found, expected  # type: ignore[return-value]


def test_migrations_on_sqlite(tmp_path: Path) -> None:
    found, expected = _migrate(f"sqlite:///{tmp_path / 'm.sqlite3'}", tmp_path)
    assert {k: v for k, v in found.items() if k in expected} == expected


@pytest.mark.postgres
def test_migrations_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    schema = "m_" + secrets.token_hex(5)
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.engine.make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        found, expected = _migrate(url.render_as_string(hide_password=False), tmp_path)
        assert {k: v for k, v in found.items() if k in expected} == expected
        sqlite_found, _ = _migrate(f"sqlite:///{tmp_path / 'cmp.sqlite3'}", tmp_path)
        assert found == sqlite_found
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_flask_db_upgrade_command(tmp_path: Path) -> None:
    """The real CLI, as the Quick start runs it."""
    env = {"PATH": "/usr/bin:/bin", "SSO_INSTANCE_PATH": str(tmp_path),
           "SSO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    flask = Path(sys.executable).parent / "flask"
    result = subprocess.run([str(flask), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    try:
        assert {"users", "connected_apps", "app_secrets", "audit_events"} <= set(_tables_and_columns(engine))
    finally:
        engine.dispose()
    assert (tmp_path / "secret_key").exists()
