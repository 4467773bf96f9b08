"""Account logic: create, update, authenticate, set passwords, import CSV.

Views and CLI commands are thin layers over these functions.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from sso.base.errors import HubError, NotFound, ValidationError
from sso.base.db import db
from .passwords import hash_password, verify_password
from sso.base.clock import utcnow

from .models import User, new_session_nonce
from sso.base.identity import clean_email, clean_login, clean_name, normalize_key

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
_IMPORT_CHUNK = 5000


class LoginFailed(HubError):
    """Wrong login or password: one message for every cause."""

    status = 401
    default_message = "Login or password is incorrect."

    def __init__(self, message: str | None = None, user: User | None = None) -> None:
        super().__init__(message)
        self.user = user  # for the audit log only; never shown


class AccountDisabled(LoginFailed):
    """The password was right but the account is deactivated."""

    status = 403
    default_message = "This account is disabled. Ask an administrator to enable it."


class InvalidSetPasswordLink(HubError):
    """A set-password link that is forged, expired or already used."""

    status = 400
    default_message = "This set-password link is invalid, expired or already used. Ask an administrator for a new one."


# -- look-ups ---------------------------------------------------------------------------


def find_user(identifier: str) -> User | None:
    """The user whose login or e-mail is ``identifier`` (case-insensitive), if any."""
    key = normalize_key(identifier or "")
    if not key:
        return None
    return db.session.scalars(
        select(User).where(or_(User.login_key == key, User.email_key == key)).order_by(User.id)
    ).first()


def get_user(user_id: int) -> User:
    """The user with ``user_id``; raises NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def search_users(query: str = "", page: int = 1, per_page: int = 50) -> tuple[list[User], int]:
    """Users whose login, e-mail or name contains ``query``, ordered by login, and the total."""
    stmt = select(User)
    text = (query or "").strip()[:200]
    if text:
        like = "%" + text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                User.login_key.like(like, escape="\\"),
                User.email_key.like(like, escape="\\"),
                func.lower(User.name).like(like, escape="\\"),
            )
        )
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = max(1, page)
    users = db.session.scalars(
        stmt.order_by(User.login_key).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return list(users), int(total)


# -- create and update ------------------------------------------------------------------


def _check_unique(login_key: str, email_key: str, exclude_id: int | None = None) -> None:
    stmt = select(User.login_key, User.email_key).where(
        or_(User.login_key == login_key, User.email_key == email_key)
    )
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    for row in db.session.execute(stmt):
        if row.login_key == login_key:
            raise ValidationError("A user with this login already exists.")
        raise ValidationError("A user with this e-mail address already exists.")


def check_password_rules(password: str) -> str:
    """Return ``password`` if it is acceptable; raises ValidationError."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError("The password is too long.")
    return password


def create_user(
    login: str,
    email: str,
    name: str | None = None,
    *,
    admin: bool = False,
    password: str | None = None,
    active: bool = True,
) -> User:
    """Create and commit a user. Raises ValidationError for bad or duplicate values."""
    login = clean_login(login)
    email = clean_email(email)
    display = clean_name(name)
    login_key, email_key = normalize_key(login), normalize_key(email)
    _check_unique(login_key, email_key)
    user = User(
        login=login, login_key=login_key, email=email, email_key=email_key, name=display,
        is_admin=admin, active=active,
        password_hash=hash_password(check_password_rules(password)) if password is not None else None,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError as err:  # a concurrent insert won the race
        db.session.rollback()
        raise ValidationError("A user with this login or e-mail address already exists.") from err
    return user


def update_user(user: User, **changes: Any) -> dict[str, Any]:
    """Apply ``login``, ``email``, ``name``, ``active``, ``is_admin`` changes and commit.

    Returns the changed fields (old and new values, never passwords).
    Deactivating a user ends every session they hold.
    """
    allowed = {"login", "email", "name", "active", "is_admin"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    new: dict[str, Any] = {}
    if "login" in changes:
        new["login"] = clean_login(changes["login"])
    if "email" in changes:
        new["email"] = clean_email(changes["email"])
    if "name" in changes:
        new["name"] = clean_name(changes["name"])
    for flag in ("active", "is_admin"):
        if flag in changes:
            new[flag] = bool(changes[flag])
    login_key = normalize_key(new.get("login", user.login))
    email_key = normalize_key(new.get("email", user.email))
    _check_unique(login_key, email_key, exclude_id=user.id)
    diff = {k: [getattr(user, k), v] for k, v in new.items() if getattr(user, k) != v}
    for key, (_old, value) in diff.items():
        setattr(user, key, value)
    user.login_key, user.email_key = login_key, email_key
    if diff.get("active") == [True, False]:
        user.session_nonce = new_session_nonce()
    try:
        db.session.commit()
    except IntegrityError as err:
        db.session.rollback()
        raise ValidationError("A user with this login or e-mail address already exists.") from err
    return diff


def set_password(user: User, password: str) -> None:
    """Set a new password (hashed) and end the user's other sessions."""
    user.password_hash = hash_password(check_password_rules(password))
    user.session_nonce = new_session_nonce()
    db.session.commit()


def end_sessions(user: User) -> None:
    """Invalidate every session of ``user`` (used at logout)."""
    user.session_nonce = new_session_nonce()
    db.session.commit()


# -- login ------------------------------------------------------------------------------


def authenticate(identifier: str, password: str) -> User:
    """The user with this login or e-mail and password; raises :class:`LoginFailed`.

    Costs exactly one password hash computation whatever the outcome, so the time does not
    tell whether the login exists. :class:`AccountDisabled` (a LoginFailed) is raised only
    after the right password for a deactivated account.
    """
    identifier = identifier if isinstance(identifier, str) else ""
    password = password if isinstance(password, str) else ""
    user = find_user(identifier[:300]) if identifier.strip() else None
    if len(password) > MAX_PASSWORD_LENGTH:
        password = password[:MAX_PASSWORD_LENGTH]
    ok = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not ok:
        raise LoginFailed(user=user)
    if not user.active:
        raise AccountDisabled(user=user)
    return user


# -- set-password links -----------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="sso.set-password")


def _binding(user: User) -> str:
    # The token is bound to the current hash (or its absence) and the session nonce:
    # once a password is set, both change and the token no longer matches.
    material = f"{user.password_hash or '-'}|{user.session_nonce}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def make_set_password_token(user: User) -> str:
    """A signed, expiring, single-use token that lets ``user`` choose a password."""
    return _serializer().dumps({"u": user.id, "b": _binding(user)})


def check_set_password_token(token: str) -> User:
    """The user a set-password token is for; raises :class:`InvalidSetPasswordLink`."""
    max_age = int(current_app.config.get("SET_PASSWORD_MAX_AGE", 3 * 24 * 3600))
    try:
        data = _serializer().loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature) as err:
        raise InvalidSetPasswordLink() from err
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise InvalidSetPasswordLink()
    user = db.session.get(User, data["u"])
    if user is None or not user.active:
        raise InvalidSetPasswordLink()
    if not hmac.compare_digest(str(data.get("b", "")), _binding(user)):
        raise InvalidSetPasswordLink()
    return user


def use_set_password_token(token: str, password: str) -> User:
    """Set the password through a set-password token; the token cannot be used again."""
    user = check_set_password_token(token)
    set_password(user, password)
    return user


# -- CSV import -------------------------------------------------------------------------


@dataclass
class ImportResult:
    """What a CSV import did."""

    created: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _rows(stream: IO[str] | IO[bytes] | Iterable[str]) -> Iterable[tuple[int, dict[str, str]]]:
    if isinstance(stream, io.BufferedIOBase) or hasattr(stream, "mode") and "b" in getattr(stream, "mode", ""):
        stream = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]
    reader = csv.DictReader(stream)  # type: ignore[arg-type]
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "login" not in header or "email" not in header:
        raise ValidationError("The CSV file needs a header line with at least login,email (and optionally name).")
    reader.fieldnames = header
    for row in reader:
        yield reader.line_num, row


def import_users_csv(stream: IO[str] | IO[bytes] | Iterable[str]) -> ImportResult:
    """Create the users of a ``login,email,name`` CSV file that do not exist yet.

    Idempotent: a row whose login already exists with the same e-mail is counted as
    unchanged. Rows that clash (e-mail of another user, duplicates in the file, bad
    values) are reported and skipped. Imported users have no password: they need a
    set-password link. Bulk inserts, no hashing: 100,000 rows take seconds.
    """
    result = ImportResult()
    existing = {
        lk: ek for lk, ek in db.session.execute(select(User.login_key, User.email_key))
    }
    emails = set(existing.values())
    pending: list[dict[str, Any]] = []
    now = utcnow()
    try:
        rows = list(_rows(stream))
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValidationError(f"The file is not a readable UTF-8 CSV file: {err}") from err
    for line, row in rows:
        try:
            login = clean_login(row.get("login"))
            email = clean_email(row.get("email"))
            name = clean_name(row.get("name"))
        except ValidationError as err:
            result.errors.append((line, err.message))
            continue
        login_key, email_key = normalize_key(login), normalize_key(email)
        if login_key in existing:
            if existing[login_key] == email_key:
                result.unchanged += 1
            else:
                result.errors.append((line, f"login {login!r} already exists with another e-mail"))
            continue
        if email_key in emails:
            result.errors.append((line, f"e-mail {email!r} already belongs to another login"))
            continue
        existing[login_key] = email_key
        emails.add(email_key)
        pending.append(
            {
                "login": login, "login_key": login_key, "email": email, "email_key": email_key,
                "name": name, "active": True, "is_admin": False, "password_hash": None,
                "session_nonce": new_session_nonce(), "created_at": now, "updated_at": now,
            }
        )
    for start in range(0, len(pending), _IMPORT_CHUNK):
        db.session.execute(insert(User), pending[start : start + _IMPORT_CHUNK])
    db.session.commit()
    result.created = len(pending)
    return result
