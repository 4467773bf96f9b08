"""HTTP layer of the SCIM directory: bearer auth, then the pure protocol functions."""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, request, url_for
from sqlalchemy.exc import IntegrityError

from sso.base.identity import normalize_key

from ..db import db
from ..models import Account
from .protocol import (
    CONTENT_TYPE,
    ScimError,
    list_response,
    parse_filter,
    parse_new_user,
    parse_paging,
    user_resource,
)

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")
MAX_BODY = 64 * 1024


def init_app(app: Flask) -> None:
    """Register the directory; it uses bearer tokens, so it is exempt from CSRF."""
    csrf = app.extensions["csrf"]
    csrf.exempt(bp)
    app.register_blueprint(bp)


def error_response(status: int, detail: str) -> Response:
    """An HTTP error (404, 405, 413, ...) in SCIM's JSON format."""
    return _json(ScimError(status, detail).to_json(), status)


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@bp.errorhandler(ScimError)
def _scim_error(err: ScimError) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if err.status == 401 else None
    return _json(err.to_json(), err.status, headers)


@bp.before_request
def _authenticate() -> None:
    expected = current_app.config["SCIM_TOKEN"]
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    # compare_digest: the time taken does not tell how much of the token was right.
    if (
        not expected
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8"))
    ):
        raise ScimError(401, "A valid bearer token is required")


_COLUMNS = (Account.id, Account.login, Account.email, Account.name, Account.active, Account.created_at)
_UserRow = sa.Row[int, str, str | None, str, bool | None, datetime]  # what selecting _COLUMNS gives


def _resource(row: _UserRow | Account, users_url: str) -> dict[str, Any]:
    created = row.created_at
    if created.tzinfo is None:  # SQLite returns naive datetimes; they were stored in UTC
        created = created.replace(tzinfo=UTC)
    return user_resource(
        id=row.id,
        login=row.login,
        email=row.email or "",
        name=row.name,
        active=row.active is not False,
        created=created,
        location=f"{users_url}/{row.id}",
    )


def _users_url() -> str:
    return url_for("scim.list_users", _external=True)


@bp.get("/Users")
def list_users() -> Response:
    """A page of users in id order, optionally filtered; totalResults counted in SQL."""
    paging = parse_paging(request.args)
    wanted = parse_filter(request.args.get("filter"))
    where: list[sa.ColumnElement[bool]] = []
    if wanted is not None:
        column = Account.login_key if wanted.attribute == "userName" else Account.email_key
        where.append(column == normalize_key(wanted.value))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Account).where(*where)) or 0
    query = sa.select(*_COLUMNS).where(*where).order_by(Account.id).offset(paging.offset).limit(paging.count)
    # Plain rows, not ORM objects: a page of 1,000 users stays cheap.
    rows = db.session.execute(query).all() if paging.count else []
    users_url = _users_url()
    return _json(list_response([_resource(row, users_url) for row in rows], total, paging.start_index))


@bp.get("/Users/<user_id>")
def get_user(user_id: str) -> Response:
    """One user by its SCIM id; 404 in SCIM's format when there is none."""
    account = db.session.get(Account, int(user_id)) if user_id.isdigit() and len(user_id) < 10 else None
    if account is None:
        raise ScimError(404, f"No user with id {user_id[:40]!r}")
    return _json(_resource(account, _users_url()))


@bp.post("/Users")
def create_user() -> Response:
    """Create a user: 201 with the resource and Location; 409 ``uniqueness`` on a taken login/e-mail."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ScimError(413, "The request body is too large")
    try:
        body = json.loads(request.get_data(cache=False, as_text=False) or b"null")
    except (ValueError, RecursionError) as err:
        raise ScimError(400, "The body is not valid JSON", "invalidValue") from err
    new = parse_new_user(body)
    for column, value, label in (
        (Account.login_key, new.login, "userName"),
        (Account.email_key, new.email, "e-mail"),
    ):
        if db.session.scalar(sa.select(Account.id).where(column == normalize_key(value))) is not None:
            raise ScimError(409, f"A user with this {label} already exists", "uniqueness")
    account = Account.new(new.login, new.email, new.name, active=new.active)
    db.session.add(account)
    try:
        db.session.commit()
    except IntegrityError as err:  # created by someone else in the meantime
        db.session.rollback()
        raise ScimError(409, "A user with this userName or e-mail already exists", "uniqueness") from err
    resource = _resource(account, _users_url())
    return _json(resource, 201, {"Location": resource["meta"]["location"]})
