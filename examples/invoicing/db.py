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


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
