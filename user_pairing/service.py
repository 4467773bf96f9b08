"""Pairing on top of the hub: directory settings, refreshes, the report and the fixes.

Views and CLI commands are thin layers over these functions. Every change an admin makes
(directory set, refresh, fix) is written to the hub's audit log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from cachetools import LRUCache
from flask import current_app
from sqlalchemy import func, select

from sso.accounts.models import User
from sso.accounts.service import create_user, make_set_password_token, set_password_url
from sso.audit import record
from sso.audit.service import register_events
from sso.base import context
from sso.base.db import db, transaction
from sso.base.identity import normalize_key
from sso.connected_apps.models import ConnectedApp
from sso.connected_apps.service import secret_box
from sso.groups.service import list_groups, memberships, set_user_groups

from .departments import DepartmentIndex, Departments
from .errors import ConfigError, FixError, SourceError
from .matching import DirectoryUser, PairingRow, Status, match_users
from .models import DirectorySetting, PairingSnapshot
from .sources import SOURCE_KINDS, DirectoryConfig, DirectorySource, safe_url

HUB_NAME = "the hub"
EVENTS = (
    "pairing_directory_set",
    "pairing_refreshed",
    "pairing_refresh_failed",
    "pairing_created_in_app",
    "pairing_created_in_hub",
    "pairing_fix_failed",
    "pairing_department_fixed",
)
register_events(*EVENTS)


# -- directory settings -----------------------------------------------------------------------


def get_directory(app: ConnectedApp) -> DirectorySetting | None:
    """The directory setting of ``app``, if one is configured."""
    return db.session.scalars(select(DirectorySetting).where(DirectorySetting.app_id == app.id)).first()


def set_directory(
    app: ConnectedApp, kind: str, url: str | None, token: str | None, *, actor: str | None = None
) -> DirectorySetting:
    """Validate and store how ``app``'s users are fetched; the token is stored encrypted.

    An empty ``token`` keeps the stored one (forms never show it back) only while the kind
    and the URL stay the same (a trailing slash or the host's letter case aside): a new URL
    or type needs the token again, so a stored token is never sent to a server it was not
    entered for. Raises :class:`ConfigError` with what to set.
    """
    kind = (kind or "").strip().lower()
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"Unknown directory type {kind!r}; use one of: {', '.join(SOURCE_KINDS)}.", field="kind")
    setting = get_directory(app)
    token = (token or "").strip() or None
    if kind == "csv":
        url, token = None, None
    else:
        url = (url or "").strip()
        if len(url) > 2048:
            raise ConfigError("The directory URL is too long (at most 2048 characters).", field="url")
        if token is None and setting is not None and setting.encrypted_token and setting.kind != "csv":
            if setting.kind != kind or not _same_target(setting.url or "", url):
                # The stored token was given for one server: never send it to another.
                raise ConfigError(
                    "The directory type or URL changed: enter the token again. The stored token is only "
                    "sent to the URL it was entered for."
                )
            token = secret_box().decrypt(setting.encrypted_token)
    DirectoryConfig(kind, url, token).validate()
    with transaction():
        if setting is None:
            setting = DirectorySetting(app_id=app.id)
            db.session.add(setting)
        setting.kind = kind
        setting.url = url
        setting.encrypted_token = secret_box().encrypt(token) if token else None
        setting.updated_at = context.now()
        record("pairing_directory_set", app=app, actor=actor,
               detail={"kind": kind, "url": safe_url(url) if url else ""})
    return setting


def _same_target(old: str, new: str) -> bool:
    """True when ``new`` points where ``old`` did (scheme, host, port, path, query)."""
    a, b = urlsplit(old.strip()), urlsplit(new.strip())
    try:
        ports = a.port, b.port
    except ValueError:
        return False
    return (
        (a.scheme.lower(), (a.hostname or ""), ports[0], a.path.rstrip("/"), a.query)
        == (b.scheme.lower(), (b.hostname or ""), ports[1], b.path.rstrip("/"), b.query)
        and a.username == b.username and a.password == b.password
    )


def directory_config(app: ConnectedApp) -> DirectoryConfig:
    """The usable configuration of ``app``'s directory (token decrypted); raises ConfigError."""
    setting = get_directory(app)
    if setting is None:
        raise ConfigError(f"No user directory is configured for {app.name}: set one first.")
    token = secret_box().decrypt(setting.encrypted_token) if setting.encrypted_token else None
    return DirectoryConfig(setting.kind, setting.url, token).validate()  # type: ignore[arg-type]


def build_directory(app: ConnectedApp, data: str | bytes | None = None) -> DirectorySource:
    """The source of ``app``'s users; ``data`` is the uploaded file of a CSV directory."""
    timeout = float(current_app.config["PAIRING_SOURCE_TIMEOUT"])
    return directory_config(app).build(data=data, timeout=timeout)


def can_provision(app: ConnectedApp) -> bool:
    """True when ``app``'s directory can create users (SCIM)."""
    setting = get_directory(app)
    return setting is not None and setting.kind == "scim"


# -- snapshots --------------------------------------------------------------------------------


def get_snapshot(app: ConnectedApp) -> PairingSnapshot | None:
    """The stored snapshot of ``app``'s users (possibly with a refresh error), if any."""
    return db.session.scalars(select(PairingSnapshot).where(PairingSnapshot.app_id == app.id)).first()


def refresh(
    app: ConnectedApp, *, data: str | bytes | None = None, actor: str | None = None, now: datetime | None = None
) -> PairingSnapshot:
    """Fetch ``app``'s users through its directory and store them as the new snapshot.

    On :class:`SourceError` the error (and when) is recorded, the last good snapshot stays,
    and the error is re-raised. :class:`ConfigError` when no usable directory is set.
    """
    source = build_directory(app, data)
    when = now or context.now()
    try:
        users = source.fetch()
        groups = source.fetch_groups()
    except SourceError as err:
        with transaction():
            snapshot = _snapshot_row(app)
            snapshot.error, snapshot.error_kind, snapshot.error_at = err.message[:1000], err.kind, when
            record("pairing_refresh_failed", app=app, actor=actor, detail={"kind": err.kind, "error": err.message})
        raise
    with transaction():
        snapshot = _snapshot_row(app)
        snapshot.set_users(users, when)
        snapshot.set_groups(groups)
        record("pairing_refreshed", app=app, actor=actor,
               detail={"users": len(users), "groups": len(groups) if groups is not None else "none"})
    return snapshot


def _snapshot_row(app: ConnectedApp) -> PairingSnapshot:
    snapshot = get_snapshot(app)
    if snapshot is None:
        snapshot = PairingSnapshot(app_id=app.id, users_json="[]", user_count=0)
        db.session.add(snapshot)
    return snapshot


# -- the report -------------------------------------------------------------------------------


def hub_users() -> list[DirectoryUser]:
    """Every hub user as a :class:`DirectoryUser` (``ref`` is the user id)."""
    rows = db.session.execute(select(User.login, User.email, User.name, User.active, User.id))
    return [DirectoryUser(login, email, name, bool(active), str(uid)) for login, email, name, active, uid in rows]


@dataclass(frozen=True)
class Report:
    """The pairing table of one app and the snapshot it was built from."""

    rows: list[PairingRow]
    snapshot: PairingSnapshot | None


def _hub_version() -> tuple[object, ...]:
    count, last_change, last_id = db.session.execute(
        select(func.count(User.id), func.max(User.updated_at), func.max(User.id))
    ).one()
    return count, str(last_change), last_id


def report(app: ConnectedApp) -> list[PairingRow]:
    """Match the hub's current users against ``app``'s snapshot (every row, problems first).

    With no snapshot yet every hub user is ``missing_in_app``. The result is cached per
    process until the snapshot or the hub's users change, so paging through 100,000 rows
    does not match them again on every page.
    """
    return full_report(app).rows


def full_report(app: ConnectedApp) -> Report:
    """:func:`report` with the snapshot it used."""
    snapshot = get_snapshot(app)
    key = (
        app.id,
        app.name,
        snapshot.id if snapshot else None,
        str(snapshot.taken_at) if snapshot else None,
        _hub_version(),
    )
    features = context.hub_state().features
    cache: LRUCache[int, tuple[tuple[object, ...], list[PairingRow]]] = features.setdefault(
        "user_pairing.reports", LRUCache(8)
    )
    hit = cache.get(app.id)
    if hit is not None and hit[0] == key:
        return Report(hit[1], snapshot)
    app_users = snapshot.users() if snapshot is not None and snapshot.has_users else []
    rows = match_users(hub_users(), app_users, app_name=app.name, hub_name=HUB_NAME)
    cache[app.id] = (key, rows)
    return Report(rows, snapshot)


# -- fixes ------------------------------------------------------------------------------------


def user_key(user: DirectoryUser) -> str:
    """A short stable id of a directory user for forms (its values may be hostile or huge)."""
    material = "\0".join((user.login, user.email, user.ref or ""))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _find_row(app: ConnectedApp, status: Status, login: str | None, key: str | None) -> PairingRow:
    side = "hub" if status is Status.MISSING_IN_APP else "app"
    for row in report(app):
        user = row.hub if side == "hub" else row.app
        if row.status is not status or user is None:
            continue
        if (key is not None and user_key(user) == key) or (key is None and user.login == login):
            return row
    place = app.name if status is Status.MISSING_IN_APP else HUB_NAME
    raise FixError(
        f"This user is not listed as missing in {place} (any more); reload the page or refresh the snapshot."
    )


def create_in_app(
    app: ConnectedApp, login: str | None = None, *, key: str | None = None, actor: str | None = None
) -> DirectoryUser:
    """Create the hub user ``login`` (or the one of :func:`user_key` ``key``), a ``missing_in_app``
    row, in ``app`` through its directory.

    Returns the user as the app created it. Raises :class:`FixError`, :class:`ConfigError`
    or :class:`SourceError` (e.g. the app refused, or its directory cannot provision).
    """
    row = _find_row(app, Status.MISSING_IN_APP, login, key)
    assert row.hub is not None
    login = row.hub.login
    source = build_directory(app)
    if not source.can_provision:
        raise FixError(f"The directory of {app.name} cannot create users; create {login[:80]!r} there by hand.")
    wanted = DirectoryUser(row.hub.login, row.hub.email, row.hub.name, row.hub.active)
    try:
        created = source.provision(wanted)
    except SourceError as err:
        record("pairing_fix_failed", app=app, actor=actor,
               detail={"fix": "create_in_app", "login": login, "kind": err.kind, "error": err.message})
        raise
    record("pairing_created_in_app", app=app, actor=actor,
           detail={"login": created.login, "email": created.email, "app_ref": created.ref or ""})
    return created


def create_in_hub(
    app: ConnectedApp, login: str | None = None, *, key: str | None = None, actor: str | None = None
) -> tuple[User, str]:
    """Create the app user ``login`` (or the one of :func:`user_key` ``key``), a ``missing_in_hub``
    row, in the hub without a password.

    Returns the new user and a set-password link to pass on. Raises :class:`FixError` or the
    hub's ``ValidationError`` (e.g. a login the hub does not accept).
    """
    row = _find_row(app, Status.MISSING_IN_HUB, login, key)
    assert row.app is not None
    with transaction():
        user = create_user(row.app.login, row.app.email, row.app.name, actor=actor, source=f"pairing:{app.slug}")
        record("pairing_created_in_hub", user=user, app=app, actor=actor,
               detail={"login": user.login, "email": user.email})
    return user, set_password_url(make_set_password_token(user))


# -- departments ------------------------------------------------------------------------------


def department_index(app: ConnectedApp, snapshot: PairingSnapshot | None = None) -> DepartmentIndex:
    """The hub's groups and memberships and ``app``'s groups (from its snapshot), ready to
    compare row by row (:meth:`DepartmentIndex.of`)."""
    snapshot = snapshot if snapshot is not None else get_snapshot(app)
    app_groups = snapshot.groups() if snapshot is not None and snapshot.has_users else None
    hub_members = {str(uid): names for uid, names in memberships().items()}
    return DepartmentIndex([g.name for g in list_groups()], hub_members, app_groups)


@dataclass(frozen=True)
class DepartmentChange:
    """A department mismatch of one row and what each fix would do (for the confirmation)."""

    row: PairingRow
    departments: Departments
    index: DepartmentIndex


def department_change(app: ConnectedApp, key: str) -> DepartmentChange:
    """The department mismatch of the row whose app user has :func:`user_key` ``key``.

    Raises :class:`FixError` when there is none (any more).
    """
    result = full_report(app)
    index = department_index(app, result.snapshot)
    for row in result.rows:
        if row.hub is not None and row.app is not None and user_key(row.app) == key:
            departments = index.of(row)
            if departments.mismatch:
                return DepartmentChange(row, departments, index)
            break
    raise FixError("This row has no department mismatch (any more); reload the page or refresh the snapshot.")


def fix_department(app: ConnectedApp, key: str, side: str, *, actor: str | None = None) -> DepartmentChange:
    """Make the departments of one row agree, ``side`` ``"app"`` or ``"hub"``.

    ``app``: one SCIM ``PATCH /Groups/{id}`` per group to join or leave (the app user's id
    as the member), then the stored snapshot is updated so the row agrees at once.
    ``hub``: the hub user's groups among the departments both systems know become the app
    user's (:func:`sso.groups.service.set_user_groups`, each change audited).
    Recorded as ``pairing_department_fixed`` (or ``pairing_fix_failed``). Raises
    :class:`FixError`, :class:`ConfigError` or :class:`SourceError`.
    """
    change = department_change(app, key)
    row, deps = change.row, change.departments
    assert row.hub is not None and row.app is not None
    if side == "hub":
        user = db.session.get(User, int(row.hub.ref or 0))
        if user is None:
            raise FixError("The hub user of this row no longer exists; reload the page.")
        shared = [n for n in (change.index.hub_groups_named(k) for k in change.index.shared) if n]
        wanted = [n for n in deps.hub if n not in deps.remove_in_hub] + list(deps.add_in_hub)
        with transaction():
            added, removed = set_user_groups(user, wanted, only=shared, actor=actor)
            record("pairing_department_fixed", user=user, app=app, actor=actor,
                   detail={"side": "hub", "login": user.login, "added": ", ".join(added),
                           "removed": ", ".join(removed)})
        return change
    if side != "app":
        raise FixError("Choose where to change the departments: in the app or in the hub.")
    source = build_directory(app)
    ref = row.app.ref or ""
    plan = [(change.index.app_group(k), True) for k in map(normalize_key, deps.add_in_app)]
    plan += [(change.index.app_group(k), False) for k in map(normalize_key, deps.remove_in_app)]
    done: list[str] = []
    try:
        for group, add in plan:
            assert group is not None
            source.change_members(group.ref, add=[ref] if add else [], remove=[] if add else [ref])
            done.append(("+" if add else "-") + group.name)
    except SourceError as err:
        record("pairing_fix_failed", app=app, actor=actor,
               detail={"fix": "department_in_app", "login": row.app.login, "done": ", ".join(done),
                       "kind": err.kind, "error": err.message})
        raise
    with transaction():
        snapshot = get_snapshot(app)
        groups = snapshot.groups() if snapshot is not None else None
        if snapshot is not None and groups is not None:
            changed = {g.ref: add for g, add in plan if g is not None}
            snapshot.set_groups([
                replace(g, members=_moved(g.members, ref, changed[g.ref])) if g.ref in changed else g
                for g in groups
            ])
        record("pairing_department_fixed", app=app, actor=actor,
               detail={"side": "app", "login": row.app.login, "app_ref": ref,
                       "added": ", ".join(deps.add_in_app), "removed": ", ".join(deps.remove_in_app)})
    return change


def _moved(members: tuple[str, ...], ref: str, add: bool) -> tuple[str, ...]:
    kept = tuple(m for m in members if m != ref)
    return (*kept, ref) if add else kept
