"""The app's own database: one unbound ``SQLAlchemy()`` (not the hub's), bound in :func:`init_app`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of the invoicing models."""


db = SQLAlchemy(model_class=Base)


def init_app(app: Flask) -> None:
    """Bind the database to ``app`` and create the tables (an example app needs no migrations)."""
    db.init_app(app)
    from . import models  # noqa: F401  (registers the tables)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            # SQLite enforces foreign keys (and their ON DELETE rules) only when asked, per connection.
            sa.event.listen(db.engine, "connect", _sqlite_foreign_keys)
            db.engine.dispose()
        db.create_all()
        _check_columns()


def _check_columns() -> None:
    """Stop with a clear message when the database predates a column (this app has no migrations)."""
    from .config import ConfigError

    inspector = sa.inspect(db.engine)
    for table in db.metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing = sorted(column.name for column in table.columns if column.name not in present)
        if missing:
            raise ConfigError(
                f"The database {db.engine.url.render_as_string(hide_password=True)} was made by an older "
                f"version of the invoicing app: table {table.name} lacks {', '.join(missing)}. "
                "This example has no migrations: delete the database (for the demo: instance/demo/) "
                "or add the columns by hand."
            )


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
