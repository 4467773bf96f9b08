"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from sso.accounts.service import login_throttle
from sso.base.db import db
from sso.base.errors import HubError

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up."""
    return jsonify(status="ok")


def _database() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as err:
        log.warning("readiness check: database unreachable (%s)", err.__class__.__name__)
        try:
            db.session.rollback()
        except SQLAlchemyError:
            pass
        return False
    return True


def _redis() -> bool | None:
    """True/False for the shared login-counter store (Redis); None when counting in memory."""
    try:
        throttle = login_throttle()
    except HubError:  # the store cannot even be opened
        return False
    if not throttle.shared:
        return None
    ok = throttle.reachable()
    if not ok:
        log.warning("readiness check: redis unreachable")
    return ok


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Every dependency answers: 200, else 503. The JSON names each one, ``ok`` or
    ``unreachable`` (``redis`` only when ``SSO_REDIS_URL`` is set)."""
    checks = {"database": _database()}
    redis = _redis()
    if redis is not None:
        checks["redis"] = redis
    body: dict[str, str] = {"status": "ready" if all(checks.values()) else "unavailable"}
    body.update((name, "ok" if ok else "unreachable") for name, ok in checks.items())
    return jsonify(body), 200 if all(checks.values()) else 503
