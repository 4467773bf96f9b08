"""Account use cases: create, update, deactivate, authenticate, set passwords, import CSV.

Each public use case validates its input, writes, records its audit event and commits
once (:func:`sso.base.db.transaction`); rules such as "an admin cannot lock themself out"
live here, so the admin pages and the CLI agree. Views and CLI commands only parse input
and map :class:`~sso.base.errors.HubError` to a page or a message.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any, Literal, cast

from flask import Flask, current_app, has_request_context, url_for
from flask_sqlalchemy.pagination import Pagination
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import false, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from sso.audit import record
from sso.base import context
from sso.base.clock import Clock
from sso.base.db import db, transaction
from sso.base.errors import HubError, NotFound, ValidationError
from sso.base.identity import clean_email, clean_login, clean_name, normalize_key

from .models import User, new_session_nonce
from .passwords import hash_password, verify_password
from .sessions import announce_ended, drop_sessions
from .signals import AccountChange, accounts_changed
from .throttle import LoginThrottle

_throttle_lock = threading.Lock()

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
    """The password was right but the account is deactivated.

    Looks exactly like :class:`LoginFailed` from outside (status, message, one hash): a
    right password must not be told apart from a wrong one, or a deactivated account
    becomes a password oracle. Only the audit log records the reason.
    """


class InvalidSetPasswordLink(HubError):
    """A set-password link that is forged, expired or already used."""

    status = 400
    title = "This link no longer works"
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


def search_users(query: str = "", page: int = 1, per_page: int = 50) -> Pagination:
    """One page of the users whose login, e-mail or name contains ``query``, by login."""
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
    return db.paginate(stmt.order_by(User.login_key), page=max(1, page), per_page=per_page, error_out=False)


# -- create and update ------------------------------------------------------------------


#: The PostgreSQL advisory lock that makes the one-namespace check and its write one at a time.
_IDENTITY_LOCK = 0x73736F5F6964  # "sso_id"


def _lock_identities() -> None:
    """Hold, until this transaction ends, the lock under which logins and e-mails are
    checked and written.

    Unique indexes keep two logins (or two e-mails) apart, but no index can keep a login
    apart from another user's e-mail: two transactions could each check, see nothing, and
    both write. On PostgreSQL a transaction-level advisory lock makes them take turns; on
    SQLite (one writer at a time) a write statement that changes nothing takes the write
    lock before the check reads.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _IDENTITY_LOCK})
    else:
        db.session.execute(
            update(User).where(false()).values(id=User.id).execution_options(synchronize_session=False)
        )


def _check_unique(login_key: str, email_key: str, exclude_id: int | None = None) -> None:
    """Refuse a login or e-mail that names another user, in either field. Call it in the
    transaction that writes them: it takes the lock of :func:`_lock_identities` first.

    Login and e-mail share one namespace: the login page accepts either, so a login equal
    to another user's e-mail (or an e-mail equal to another user's login) would make one of
    the two unable to log in with it.
    """
    _lock_identities()
    keys = (login_key, email_key)
    stmt = select(User.login_key, User.email_key).where(
        or_(User.login_key.in_(keys), User.email_key.in_(keys))
    )
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    rows = list(db.session.execute(stmt))
    if any(row.login_key == login_key for row in rows):
        raise ValidationError("A user with this login already exists.", field="login")
    if any(row.email_key == email_key for row in rows):
        raise ValidationError("A user with this e-mail address already exists.", field="email")
    if any(row.email_key == login_key for row in rows):
        raise ValidationError("This login is another user's e-mail address; choose another login.", field="login")
    if rows:
        raise ValidationError(
            "This e-mail address is another user's login; choose another e-mail address.", field="email"
        )


def check_password_rules(password: str) -> str:
    """Return ``password`` if it is acceptable; raises ValidationError."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError("The password is too long.", field="password")
    return password


_DUPLICATE = "A user with this login or e-mail address already exists."


def create_user(
    login: str,
    email: str,
    name: str | None = None,
    *,
    admin: bool = False,
    password: str | None = None,
    active: bool = True,
    actor: str | None = None,
    source: str | None = None,
) -> User:
    """Create a user and record ``user_created``; one commit (or the caller's transaction).

    ``source`` says where the user came from in the audit entry (e.g. ``"pairing"``).
    Raises ValidationError for bad or duplicate values.
    """
    login = clean_login(login)
    email = clean_email(email)
    display = clean_name(name)
    login_key, email_key = normalize_key(login), normalize_key(email)
    password_hash = hash_password(check_password_rules(password)) if password is not None else None
    try:
        with transaction():
            _check_unique(login_key, email_key)
            user = User(
                login=login, login_key=login_key, email=email, email_key=email_key, name=display,
                is_admin=admin, active=active, password_hash=password_hash,
            )
            db.session.add(user)
            db.session.flush()  # the id for the audit row; a concurrent duplicate fails here
            detail: dict[str, Any] = {"login": user.login, "admin": user.is_admin}
            if source:
                detail["source"] = source
            record("user_created", user=user, actor=actor, detail=detail)
            _announce([AccountChange(user.id, "created", ("login", "email", "name", "active"))])
    except IntegrityError as err:  # a concurrent insert won the race
        raise ValidationError(_DUPLICATE) from err
    return user


def _lockout_check(user: User, by: User | None, new: dict[str, Any]) -> None:
    """An admin cannot lock themself out (deactivate or drop their own admin flag)."""
    if by is not None and by.id == user.id and (new.get("active") is False or new.get("is_admin") is False):
        raise ValidationError("You cannot deactivate yourself or remove your own admin rights.")


def update_user(user: User, *, by: User | None = None, actor: str | None = None, **changes: Any) -> dict[str, Any]:
    """Apply ``login``, ``email``, ``name``, ``active``, ``is_admin`` changes, record
    ``user_changed`` (when something changed) and commit once.

    ``by`` is the administrator making the change (none from the CLI): they cannot
    deactivate themself or drop their own admin flag. Returns the changed fields (old and
    new values, never passwords). Deactivating a user ends every session they hold.
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
    _lockout_check(user, by, new)
    login_key = normalize_key(new.get("login", user.login))
    email_key = normalize_key(new.get("email", user.email))
    try:
        with transaction():
            _check_unique(login_key, email_key, exclude_id=user.id)
            diff = {k: [getattr(user, k), v] for k, v in new.items() if getattr(user, k) != v}
            for key, (_old, value) in diff.items():
                setattr(user, key, value)
            user.login_key, user.email_key = login_key, email_key
            if diff.get("active") == [True, False]:
                drop_sessions(user, reason="deactivated")  # the apps hear of it after the commit
            if diff:
                record("user_changed", user=user, actor=actor,
                       detail={k: f"{v[0]} -> {v[1]}" for k, v in diff.items()})
                change = _account_change(user, diff)
                if change is not None:
                    db.session.flush()
                    _announce([change])
    except IntegrityError as err:
        raise ValidationError(_DUPLICATE) from err
    return diff


def _account_change(user: User, diff: dict[str, Any]) -> AccountChange | None:
    """What a connected app must hear about ``diff`` (admin flag changes concern nobody else)."""
    fields = tuple(k for k in ("login", "email", "name", "active") if k in diff)
    if not fields:
        return None
    kind: Literal["changed", "deactivated", "reactivated"] = "changed"
    if "active" in diff:
        kind = "reactivated" if diff["active"][1] else "deactivated"
    old_login = diff["login"][0] if "login" in diff else None
    return AccountChange(user.id, kind, fields, old_login)


def _announce(changes: list[AccountChange]) -> None:
    """Tell subscribers (inside the current transaction) that hub users changed."""
    if changes:
        accounts_changed.send(current_app._get_current_object(), changes=changes)  # type: ignore[attr-defined]


def deactivate_user(user: User, *, by: User | None = None, actor: str | None = None) -> bool:
    """Deactivate ``user`` (their sessions end at once); False if already inactive."""
    return bool(update_user(user, by=by, actor=actor, active=False))


def _set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(check_password_rules(password))
    drop_sessions(user, reason="password")  # every session of the user ends


def _this_app() -> Flask:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def log_out(user: User, session_id: str | None = None) -> None:
    """End the session ``session_id`` of ``user`` (and any copy of its cookie), or every
    session of the user when none is named; audited. Apps signed in through OpenID Connect
    hear of it (``sessions_ended``, back-channel logout)."""
    from sqlalchemy import delete

    from .factor_models import UserSession

    with transaction():
        record("logout", user=user)
        if session_id is None:
            drop_sessions(user, reason="logout")
        else:
            db.session.execute(
                delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
            )
            announce_ended(user, "logout", session_id)


# -- login ------------------------------------------------------------------------------


def authenticate(identifier: object, password: object) -> User:
    """The user with this login or e-mail and password; raises :class:`LoginFailed`.

    Costs exactly one password hash computation whatever the outcome, so the time does not
    tell whether the login exists. :class:`AccountDisabled` (a LoginFailed) is raised only
    after the right password for a deactivated account.
    """
    text = identifier[:300] if isinstance(identifier, str) else ""
    return _check_password(find_user(text) if text.strip() else None, password)


def _check_password(user: User | None, password: object) -> User:
    password = password if isinstance(password, str) else ""
    if len(password) > MAX_PASSWORD_LENGTH:
        password = password[:MAX_PASSWORD_LENGTH]
    ok = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not ok:
        raise LoginFailed(user=user)
    if not user.active:
        raise AccountDisabled(user=user)
    return user


def login_throttle() -> LoginThrottle:
    """The app's login throttle (made on first use from the ``LOGIN_LIMIT_*`` settings)."""
    features = context.hub_state().features
    throttle: LoginThrottle | None = features.get("accounts.throttle")
    if throttle is None:
        with _throttle_lock:
            throttle = features.get("accounts.throttle")
            if throttle is None:
                config = current_app.config
                throttle = features["accounts.throttle"] = LoginThrottle(
                    config["THROTTLE_STORAGE_URI"], config["LOGIN_LIMIT_IP"], config["LOGIN_LIMIT_LOGIN"],
                    context.clock(), prefix=config["THROTTLE_PREFIX"],
                )
    return throttle


def _account_keys(text: str, user: User | None) -> list[str]:
    # Every spelling of one account (login, e-mail, any case) shares the account's counter;
    # an unknown name is counted under its normalised form.
    return [f"user:{user.id}"] if user is not None else [f"name:{normalize_key(text)}"]


def log_in(identifier: object, password: object, *, ip: str) -> User:
    """The login use case: throttle, :func:`authenticate`, and ``login_ok`` or
    ``login_failed`` in the audit log.

    Raises :class:`~.throttle.Throttled` when the client IP or the account has had too many
    failures (checked before the password, so a locked-out guess costs no hash and tells
    nothing), :class:`LoginFailed` (or :class:`AccountDisabled`) otherwise, and
    :class:`~.throttle.ThrottleUnavailable` when the shared counters cannot be reached.
    An unknown login is recorded as ``(unknown)``: it is often a password typed in the
    wrong field, so the submitted text is never stored.
    """
    text = identifier[:300] if isinstance(identifier, str) else ""
    user = find_user(text) if text.strip() else None
    keys = _account_keys(text, user)
    throttle = login_throttle()
    throttle.check(ip, keys)
    try:
        user = _check_password(user, password)
    except LoginFailed as err:
        throttle.failed(ip, keys)
        detail = {"login": err.user.login if err.user is not None else "(unknown)"}
        if isinstance(err, AccountDisabled):
            detail["reason"] = "disabled"
        record("login_failed", user=err.user, detail=detail)
        raise
    throttle.succeeded(ip, keys)
    record("login_ok", user=user, actor=user.login)
    return user


# -- set-password links -----------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    """Signs with the newest secret key and verifies with every configured one.

    itsdangerous signs with the LAST key of its list, so the older keys
    (``SECRET_KEY_FALLBACKS``, newest first) come reversed, then ``SECRET_KEY``.
    """
    config = current_app.config
    keys = [*reversed(config["SECRET_KEY_FALLBACKS"]), config["SECRET_KEY"]]
    return URLSafeTimedSerializer(
        keys, salt="sso.set-password", signer=ClockSigner, signer_kwargs={"clock": context.clock()}
    )


class ClockSigner(TimestampSigner):
    """itsdangerous's timestamp signer with the app's clock: links are stamped, and their
    age is judged, by the same injectable time as everything else."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock.time())


def _binding(user: User) -> str:
    # The token is bound to the current hash (or its absence) and the session nonce:
    # once a password is set, both change and the token no longer matches.
    material = f"{user.password_hash or '-'}|{user.session_nonce}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def make_set_password_token(user: User) -> str:
    """A signed, expiring, single-use token that lets ``user`` choose a password.

    Not audited by itself: :func:`issue_set_password_link` is the use case."""
    return _serializer().dumps({"u": user.id, "b": _binding(user)})


def set_password_url(token: str) -> str:
    """The absolute set-password link for ``token``, built from ``SSO_BASE_URL`` when it
    is set, else from the current request; outside a request (CLI) without a base URL,
    the loopback demo address."""
    base = current_app.config.get("BASE_URL")
    if has_request_context():
        path = url_for("accounts.set_password", token=token)
        return f"{base}{path}" if base else url_for("accounts.set_password", token=token, _external=True)
    root = base or "http://127.0.0.1:5000"
    # A request on the base URL's own host: the hub serves trusted hosts only (TRUSTED_HOSTS).
    with current_app.test_request_context(base_url=root):
        path = url_for("accounts.set_password", token=token)
    return f"{root}{path}"


def issue_set_password_link(user: User, *, actor: str | None = None, end_password: bool = False) -> str:
    """A set-password token for ``user``, recorded as ``password_link`` in the audit log.

    With ``end_password`` (an admin's "Reset password") the current password stops working
    at once and every session of the user ends; the link is the only way back in.
    """
    with transaction():
        if end_password:
            user.password_hash = None
            drop_sessions(user, reason="password")
        record("password_link", user=user, actor=actor, detail={"old_password": "ended"} if end_password else None)
        token = make_set_password_token(user)
    return token


def check_set_password_token(token: str) -> User:
    """The user a set-password token is for; raises :class:`InvalidSetPasswordLink`."""
    max_age = int(current_app.config["SET_PASSWORD_MAX_AGE"])
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
    """Set the password through a set-password token (``password_set`` in the audit log);
    the token cannot be used again, and every other session of the user ends."""
    user = check_set_password_token(token)
    with transaction():
        _set_password(user, password)
        record("password_set", user=user, actor=user.login)
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
        stream = io.TextIOWrapper(cast(IO[bytes], stream), encoding="utf-8-sig", newline="")
    reader = csv.DictReader(cast(Iterable[str], stream))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "login" not in header or "email" not in header:
        raise ValidationError("The CSV file needs a header line with at least login,email (and optionally name).")
    reader.fieldnames = header
    for row in reader:
        yield reader.line_num, row


def import_users_csv(stream: IO[str] | IO[bytes] | Iterable[str], *, actor: str | None = None) -> ImportResult:
    """Create the users of a ``login,email,name`` CSV file that do not exist yet.

    Idempotent: a row whose login already exists with the same e-mail is counted as
    unchanged. Rows that clash (e-mail of another user, duplicates in the file, bad
    values) are reported and skipped. Imported users have no password: they need a
    set-password link. Bulk inserts, no hashing: 100,000 rows take seconds.
    """
    result = ImportResult()
    try:
        rows = list(_rows(stream))
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValidationError(f"The file is not a readable UTF-8 CSV file: {err}") from err
    now = context.now()
    with transaction():
        _lock_identities()  # the users read here are the users the rows are checked against
        existing = {lk: ek for lk, ek in db.session.execute(select(User.login_key, User.email_key))}
        emails = set(existing.values())
        pending: list[dict[str, Any]] = []
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
            if login_key in emails:
                result.errors.append((line, f"login {login!r} is another user's e-mail address"))
                continue
            if email_key != login_key and email_key in existing:
                result.errors.append((line, f"e-mail {email!r} is another user's login"))
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
        result.created = len(pending)
        for start in range(0, len(pending), _IMPORT_CHUNK):
            chunk = pending[start : start + _IMPORT_CHUNK]
            db.session.execute(insert(User), chunk)
            if accounts_changed.receivers:
                keys = [row["login_key"] for row in chunk]
                ids = db.session.scalars(select(User.id).where(User.login_key.in_(keys))).all()
                _announce([AccountChange(uid, "created", ("login", "email", "name", "active")) for uid in ids])
        record("users_imported", actor=actor,
               detail={"created": result.created, "unchanged": result.unchanged, "errors": len(result.errors)})
    return result
