"""Flask extensions other than the database, created unbound here and bound in :func:`init_app`."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from .db import db
from .db import init_app as init_db

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")

migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Bind every extension to ``app``."""
    init_db(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
