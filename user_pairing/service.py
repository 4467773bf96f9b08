"""Pairing on top of the hub: directory settings, refreshes, the report and the fixes.

Views and CLI commands are thin layers over these functions. Every change an admin makes
(directory set, refresh, fix) is written to the hub's audit log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cachetools import LRUCache
from flask import Flask, current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from sso.accounts.models import User
from sso.accounts.service import create_user, make_set_password_token, set_password_url, update_user
from sso.audit import record
from sso.audit.service import register_events
from sso.base import context
from sso.base.db import db, transaction
from sso.base.errors import HubError
from sso.base.identity import normalize_key
from sso.connected_apps.models import ConnectedApp
from sso.connected_apps.service import secret_box
from sso.groups.service import list_groups, memberships, set_user_groups

from . import display
from .departments import DepartmentIndex, Departments
from .errors import ConfigError, FixError, SourceError
from .matching import DirectoryUser, PairingRow, Status, collector_paused, counts, match_users
from .models import DirectorySetting, PairingReport, PairingSnapshot, _aware
from .scim_client import DeliveryError, Desired, ScimClient
from .sources import SOURCE_KINDS, DirectoryConfig, DirectorySource, safe_url

log = logging.getLogger(__name__)

HUB_NAME = "the hub"
EVENTS = (
    "pairing_directory_set",
    "pairing_refreshed",
    "pairing_refresh_failed",
    "pairing_created_in_app",
    "pairing_created_in_hub",
    "pairing_fix_failed",
    "pairing_department_fixed",
    "pairing_changed_in_app",
    "pairing_changed_in_hub",
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
    app: ConnectedApp,
    *,
    data: str | bytes | None = None,
    actor: str | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> PairingSnapshot:
    """Fetch ``app``'s users through its directory and store them as the new snapshot.

    On :class:`SourceError` the error (and when) is recorded, the last good snapshot stays,
    and the error is re-raised. :class:`ConfigError` when no usable directory is set.
    """
    source = build_directory(app, data)
    if progress is not None and hasattr(source, "progress"):
        source.progress = progress
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


# -- background refresh -----------------------------------------------------------------------

_REFRESHES = "user_pairing.refreshes"  # hub state: app id -> the thread refreshing it
STALE_REFRESH = timedelta(minutes=10)  # a refresh "running" longer than this died with its process


def snapshot_is_old(snapshot: PairingSnapshot | None) -> bool:
    """No good snapshot yet, or one older than ``PAIRING_SNAPSHOT_MAX_AGE``."""
    if snapshot is None or snapshot.taken_at is None:
        return True
    age = context.now() - _aware(snapshot.taken_at)
    return age > timedelta(seconds=int(current_app.config["PAIRING_SNAPSHOT_MAX_AGE"]))


def refresh_running(snapshot: PairingSnapshot | None) -> bool:
    """A background refresh (in any worker) has started and not finished."""
    if snapshot is None or snapshot.refresh_started_at is None:
        return False
    return context.now() - _aware(snapshot.refresh_started_at) < STALE_REFRESH


def start_background_refresh(app: ConnectedApp, *, actor: str | None = None, force: bool = False) -> bool:
    """Refresh ``app``'s snapshot in a thread, recording progress in the snapshot row.

    Does nothing (False) for a CSV directory (it needs an upload), when no directory is set,
    or when a refresh is already running, unless ``force``. Returns True when one started.
    """
    setting = get_directory(app)
    if setting is None or setting.kind == "csv":
        return False
    with transaction():
        snapshot = _snapshot_row(app)
        if refresh_running(snapshot) and not force:
            return False
        snapshot.refresh_started_at = context.now()
        snapshot.refresh_done, snapshot.refresh_total = 0, None
    flask_app = current_app._get_current_object()  # type: ignore[attr-defined]
    app_id = app.id
    thread = threading.Thread(
        target=_refresh_in_background, args=(flask_app, app_id, actor), name=f"pairing-refresh-{app_id}", daemon=True
    )
    context.hub_state(flask_app).features.setdefault(_REFRESHES, {})[app_id] = thread
    thread.start()
    return True


def wait_for_all_refreshes(flask_app: Flask, timeout: float = 30.0) -> None:
    """Wait for every background refresh this process started for ``flask_app`` (tests, and
    an orderly shutdown: a refresh holds a database connection until it ends)."""
    threads = context.hub_state(flask_app).features.get(_REFRESHES, {})
    for thread in list(threads.values()):
        thread.join(timeout)


def wait_for_refresh(app: ConnectedApp, timeout: float = 30.0) -> None:
    """Wait for this process's background refresh of ``app`` (tests and the CLI use it)."""
    thread = context.hub_state().features.get(_REFRESHES, {}).get(app.id)
    if thread is not None:
        thread.join(timeout)


def _refresh_in_background(flask_app: Flask, app_id: int, actor: str | None) -> None:
    with flask_app.app_context():
        try:
            app = db.session.get(ConnectedApp, app_id)
            if app is not None:
                refresh(app, actor=actor, progress=lambda done, total: _progress(app_id, done, total))
        except Exception as err:  # recorded on the snapshot by refresh(); never kill the process
            log.warning("background refresh of app %s failed: %s", app_id, type(err).__name__)
        finally:
            try:
                with transaction():
                    db.session.execute(
                        update(PairingSnapshot).where(PairingSnapshot.app_id == app_id).values(refresh_started_at=None)
                    )
            except Exception:
                log.warning("could not clear the refresh mark of app %s", app_id)
            db.session.remove()


def _progress(app_id: int, done: int, total: int | None) -> None:
    with transaction():
        db.session.execute(
            update(PairingSnapshot)
            .where(PairingSnapshot.app_id == app_id)
            .values(refresh_done=done, refresh_total=total)
        )


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

    @property
    def ready(self) -> bool:
        """A good snapshot exists: the rows say something and fixes may be offered."""
        return self.snapshot is not None and self.snapshot.has_users


def _hub_version() -> str:
    count, last_change, last_id = db.session.execute(
        select(func.count(User.id), func.max(User.updated_at), func.max(User.id))
    ).one()
    return f"{count}:{last_change}:{last_id}"


def _report_key(app: ConnectedApp, snapshot: PairingSnapshot | None) -> str:
    name = hashlib.sha256(app.name.encode()).hexdigest()[:12]  # the app's name is part of every hint
    snap = f"{snapshot.id}.{snapshot.version}" if snapshot is not None and snapshot.has_users else "none"
    return f"{snap}|{_hub_version()}|{name}"[:200]


def report(app: ConnectedApp) -> list[PairingRow]:
    """Match the hub's current users against ``app``'s snapshot (every row, problems first).

    With no snapshot yet the table is empty. The report is built once per (snapshot
    version, hub users version), stored in the database for every worker, and kept in
    each process after its first read.
    """
    return full_report(app).rows


def full_report(app: ConnectedApp) -> Report:
    """:func:`report` with the snapshot it used."""
    snapshot = get_snapshot(app)
    key = _report_key(app, snapshot)
    features = context.hub_state().features
    cache: LRUCache[int, tuple[str, list[PairingRow]]] = features.setdefault("user_pairing.reports", LRUCache(8))
    hit = cache.get(app.id)
    if hit is not None and hit[0] == key:
        return Report(hit[1], snapshot)
    if snapshot is None or not snapshot.has_users:
        cache[app.id] = (key, [])
        return Report([], snapshot)
    stored = db.session.scalars(select(PairingReport).where(PairingReport.app_id == app.id)).first()
    with collector_paused():  # many small objects, no cycles: the cyclic GC would only cost time
        if stored is not None and stored.key == key:
            rows = unpack_rows(stored.rows)
        else:
            rows = match_users(hub_users(), snapshot.users(), app_name=app.name, hub_name=HUB_NAME)
            _store_report(app, key, rows)
    cache[app.id] = (key, rows)
    return Report(rows, snapshot)


def _store_report(app: ConnectedApp, key: str, rows: list[PairingRow]) -> None:
    blob = pack_rows(rows)
    tally = json.dumps({str(k): v for k, v in counts(rows).items()})
    try:
        with transaction():
            stored = db.session.scalars(select(PairingReport).where(PairingReport.app_id == app.id)).first()
            if stored is None:
                db.session.add(PairingReport(app_id=app.id, key=key, rows=blob, counts=tally, built_at=context.now()))
            else:
                stored.key, stored.rows, stored.counts, stored.built_at = key, blob, tally, context.now()
    except IntegrityError:  # another worker stored it at the same moment: theirs is as good
        pass


def stored_counts(app: ConnectedApp) -> dict[str, int] | None:
    """The per-status counts of ``app``'s last stored report (None before the first one)."""
    tally = db.session.scalars(select(PairingReport.counts).where(PairingReport.app_id == app.id)).first()
    return json.loads(tally) if tally else None


def pack_rows(rows: list[PairingRow]) -> bytes:
    """The rows as compressed compact JSON: each distinct user once, rows pointing at them."""
    index: dict[int, int] = {}
    users: list[list[object]] = []

    def ref(user: DirectoryUser | None) -> int:
        if user is None:
            return -1
        found = index.get(id(user))
        if found is None:
            found = index[id(user)] = len(users)
            users.append([user.login, user.email, user.name, user.active, user.ref])
        return found

    packed = [[str(r.status), ref(r.hub), ref(r.app), r.hint, r.case_only_difference, r.group] for r in rows]
    text = json.dumps({"u": users, "r": packed}, ensure_ascii=False, separators=(",", ":"))
    return zlib.compress(text.encode("utf-8", "surrogatepass"), 1)


def unpack_rows(blob: bytes) -> list[PairingRow]:
    """The rows :func:`pack_rows` stored.

    Objects are made by setting their slots directly rather than through the frozen
    dataclasses' ``__init__`` (which goes through ``object.__setattr__`` per field): the same
    objects, a third faster, which matters for the first page view of 100,000 rows.
    """
    data = json.loads(zlib.decompress(blob).decode("utf-8", "surrogatepass"))
    new = object.__new__
    set_login, set_email, set_name, set_active, set_ref = _slot_setters(DirectoryUser)
    users: list[DirectoryUser] = []
    keep = users.append
    for login, email, name, active, ref in data["u"]:
        user = new(DirectoryUser)
        set_login(user, login)
        set_email(user, email)
        set_name(user, name)
        set_active(user, active)
        set_ref(user, ref)
        keep(user)
    statuses = {str(s): s for s in Status}
    set_status, set_hub, set_app, set_hint, set_case, set_group = _slot_setters(PairingRow)
    rows: list[PairingRow] = []
    add = rows.append
    for status, h, a, hint, case_only, group in data["r"]:
        row = new(PairingRow)
        set_status(row, statuses[status])
        set_hub(row, users[h] if h >= 0 else None)
        set_app(row, users[a] if a >= 0 else None)
        set_hint(row, hint)
        set_case(row, case_only)
        set_group(row, group)
        add(row)
    return rows


def _slot_setters(cls: type) -> list[Callable[[object, object], None]]:
    """The slot setters of a slots dataclass, in field order."""
    return [cls.__dict__[f.name].__set__ for f in fields(cls)]


# -- fixes ------------------------------------------------------------------------------------


def user_key(user: DirectoryUser) -> str:
    """A short stable id of a directory user for forms (its values may be hostile or huge)."""
    material = "\0".join((user.login, user.email, user.ref or ""))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def row_key(row: PairingRow) -> str:
    """A short stable id of a row: its two sides' :func:`user_key`."""
    return ":".join(user_key(u) if u is not None else "-" for u in (row.hub, row.app))


#: The fixes each status offers, in the order the page shows them.
FIXES: dict[Status, tuple[str, ...]] = {
    Status.EMAIL_MISMATCH: ("app_email", "hub_email"),
    Status.LOGIN_MISMATCH: ("app_login", "hub_login"),
    Status.MISSING_IN_APP: ("create_in_app",),
    Status.MISSING_IN_HUB: ("create_in_hub",),
}
FIX_LABELS = {
    "app_email": "Change in the app",
    "hub_email": "Change in the hub",
    "app_login": "Change in the app",
    "hub_login": "Change in the hub",
    "create_in_app": "Create in app",
    "create_in_hub": "Create in hub",
}
MAX_BULK = 500


@dataclass(frozen=True)
class PlannedFix:
    """One fix an admin is about to confirm: ``action`` on ``row``; :meth:`describe` says it exactly."""

    action: str
    row: PairingRow

    @property
    def key(self) -> str:
        return row_key(self.row)

    def describe(self, app_name: str) -> str:
        hub, other = self.row.hub, self.row.app
        show = display.visible
        if self.action == "app_email":
            assert hub and other
            return f"In {app_name}: e-mail of {show(other.login)}: {show(other.email)} → {show(hub.email)}"
        if self.action == "app_login":
            assert hub and other
            return f"In {app_name}: login {show(other.login)} → {show(hub.login)} (e-mail {show(other.email)})"
        if self.action == "hub_email":
            assert hub and other
            return f"In {HUB_NAME}: e-mail of {show(hub.login)}: {show(hub.email)} → {show(other.email)}"
        if self.action == "hub_login":
            assert hub and other
            return f"In {HUB_NAME}: login {show(hub.login)} → {show(other.login)} (e-mail {show(hub.email)})"
        if self.action == "create_in_app":
            assert hub
            return f"In {app_name}: create {show(hub.login)} ({show(hub.email)})"
        assert other
        return f"In {HUB_NAME}: create {show(other.login)} ({show(other.email)}) without a password (set-password link)"


def _check_action(action: str) -> None:
    if action not in FIX_LABELS:
        raise FixError("Unknown fix.")


def plan_fixes(app: ConnectedApp, action: str, keys: list[str]) -> list[PlannedFix]:
    """The fixes ``action`` on the rows of ``keys``; raises FixError when a row is gone or does not allow it."""
    _check_action(action)
    result = full_report(app)
    if not result.ready:
        raise FixError(f"There is no snapshot of {app.name}'s users yet; wait for it or refresh it.")
    by_key = {row_key(r): r for r in result.rows if action in FIXES.get(r.status, ())}
    missing = [k for k in keys if k not in by_key]
    if missing or not keys:
        raise FixError("A row changed since the page was shown (or cannot be fixed this way); reload the page.")
    return [PlannedFix(action, by_key[k]) for k in dict.fromkeys(keys)][:MAX_BULK]


def plan_bulk(app: ConnectedApp, action: str, status: Status | None, query: str) -> tuple[list[PlannedFix], int]:
    """``action`` on every row of the current filter that allows it: (the first MAX_BULK, how many in all)."""
    _check_action(action)
    result = full_report(app)
    if not result.ready:
        raise FixError(f"There is no snapshot of {app.name}'s users yet; wait for it or refresh it.")
    chosen = [r for r in display.select_rows(result.rows, status, query) if action in FIXES.get(r.status, ())]
    return [PlannedFix(action, r) for r in chosen[:MAX_BULK]], len(chosen)


@dataclass
class FixOutcome:
    """What applying a list of fixes did: messages per fix, and set-password links for new hub users."""

    done: list[str]
    failed: list[str]
    links: list[tuple[User, str]]


def apply_fixes(app: ConnectedApp, fixes: list[PlannedFix], *, actor: str | None = None) -> FixOutcome:
    """Apply confirmed fixes one by one (each audited); the snapshot is updated at once for the app side."""
    outcome = FixOutcome([], [], [])
    replaced: dict[str, DirectoryUser] = {}  # app user key -> its new value
    added: list[DirectoryUser] = []
    client: ScimClient | None = None
    try:
        for fix in fixes:
            try:
                if fix.action in ("app_email", "app_login"):
                    if client is None:
                        client = _scim_client(app)
                    new = _change_in_app(app, client, fix, actor)
                    assert fix.row.app is not None
                    replaced[user_key(fix.row.app)] = new
                elif fix.action in ("hub_email", "hub_login"):
                    _change_in_hub(app, fix, actor)
                elif fix.action == "create_in_app":
                    assert fix.row.hub is not None
                    added.append(create_in_app(app, key=user_key(fix.row.hub), actor=actor, update_snapshot=False))
                else:
                    assert fix.row.app is not None
                    outcome.links.append(create_in_hub(app, key=user_key(fix.row.app), actor=actor))
                outcome.done.append(fix.describe(app.name))
            except (FixError, SourceError, ConfigError, DeliveryError, HubError) as err:
                db.session.rollback()
                outcome.failed.append(f"{fix.describe(app.name)}: {err}")
    finally:
        if client is not None:
            client.close()
    if replaced or added:
        _update_snapshot(app, replaced, added)
    return outcome


def _scim_client(app: ConnectedApp) -> ScimClient:
    config = directory_config(app)
    if config.kind != "scim":
        raise FixError(f"The directory of {app.name} cannot change users; change them there by hand.")
    assert config.url is not None and config.token is not None
    timeout = float(current_app.config["PAIRING_SOURCE_TIMEOUT"])
    retries = int(current_app.config["PROVISIONING_RETRIES"])
    return ScimClient(config.url, config.token, timeout=timeout, retries=retries)


def _change_in_app(app: ConnectedApp, client: ScimClient, fix: PlannedFix, actor: str | None) -> DirectoryUser:
    hub, other = fix.row.hub, fix.row.app
    assert hub is not None and other is not None
    if not other.ref:
        raise FixError(f"{app.name} gave no id for {display.visible(other.login)}; change it there by hand.")
    field = "email" if fix.action == "app_email" else "login"
    new = replace(other, email=hub.email) if field == "email" else replace(other, login=hub.login)
    try:
        client.patch(other.ref, Desired(new.login, new.email, new.name, new.active, ""), (field,))
    except DeliveryError as err:
        with transaction():
            record("pairing_fix_failed", app=app, actor=actor,
                   detail={"fix": fix.action, "login": other.login, "error": err.message})
        raise
    with transaction():
        record("pairing_changed_in_app", app=app, actor=actor,
               detail={"field": field, "login": other.login, "from": getattr(other, field), "to": getattr(new, field),
                       "app_ref": other.ref})
    return new


def _change_in_hub(app: ConnectedApp, fix: PlannedFix, actor: str | None) -> None:
    hub, other = fix.row.hub, fix.row.app
    assert hub is not None and other is not None and hub.ref is not None
    user = db.session.get(User, int(hub.ref))
    if user is None:
        raise FixError(f"The hub user {display.visible(hub.login)} no longer exists; reload the page.")
    field = "email" if fix.action == "hub_email" else "login"
    value = other.email if field == "email" else other.login
    with transaction():
        if field == "email":
            update_user(user, actor=actor, email=value)
        else:
            update_user(user, actor=actor, login=value)
        record("pairing_changed_in_hub", user=user, app=app, actor=actor,
               detail={"field": field, "from": getattr(hub, field), "to": value})


def _update_snapshot(app: ConnectedApp, replaced: dict[str, DirectoryUser], added: list[DirectoryUser]) -> None:
    """Write fixed app users into the stored snapshot at once (a new snapshot version)."""
    with transaction():
        snapshot = get_snapshot(app)
        if snapshot is None or not snapshot.has_users:
            return
        users = [replaced.get(user_key(u), u) for u in snapshot.users()] + added
        taken_at = snapshot.taken_at
        assert taken_at is not None
        snapshot.set_users(users, taken_at)


def _find_row(app: ConnectedApp, status: Status, login: str | None, key: str | None) -> PairingRow:
    side = "hub" if status is Status.MISSING_IN_APP else "app"
    result = full_report(app)
    if not result.ready:
        raise FixError(f"There is no snapshot of {app.name}'s users yet; wait for it or refresh it.")
    for row in result.rows:
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
    app: ConnectedApp,
    login: str | None = None,
    *,
    key: str | None = None,
    actor: str | None = None,
    update_snapshot: bool = True,
) -> DirectoryUser:
    """Create the hub user ``login`` (or the one of :func:`user_key` ``key``), a ``missing_in_app``
    row, in ``app`` through its directory; the stored snapshot gets the new user at once.

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
        with transaction():
            record("pairing_fix_failed", app=app, actor=actor,
                   detail={"fix": "create_in_app", "login": login, "kind": err.kind, "error": err.message})
        raise
    with transaction():
        record("pairing_created_in_app", app=app, actor=actor,
               detail={"login": created.login, "email": created.email, "app_ref": created.ref or ""})
    if update_snapshot:
        _update_snapshot(app, {}, [created])
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
