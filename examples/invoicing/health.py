"""``/healthz``: 200 when the app can reach its database (used by the demo runner)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from .db import db


def init_app(app: Flask) -> None:
    """Register ``GET /healthz`` on ``app``."""

    @app.get("/healthz")
    def healthz() -> tuple[str, int, dict[str, str]]:
        try:
            db.session.execute(sa.select(1))
        except SQLAlchemyError:
            return "database unavailable\n", 503, {"Content-Type": "text/plain"}
        return "ok\n", 200, {"Content-Type": "text/plain"}
