"""Outbound provisioning: hub user changes pushed to every app whose directory is SCIM.

Reliable by construction (a transactional outbox):

1. The hub's account use cases send :data:`sso.accounts.signals.accounts_changed` inside
   their transaction; :func:`enqueue` adds one :class:`OutboxEntry` per change and SCIM app
   to the same session, so the change and its outbox rows commit together or not at all.
2. A worker (:class:`Worker`, ``flask --app wsgi provisioning run``) leases due rows, brings
   each (app, user) to the hub's CURRENT state of the user, and deletes the rows in the
   transaction that records the delivery. Delivery is idempotent: the app's user is looked up
   (by the stored SCIM id, else by ``userName``) before anything is created, and PATCH sets
   values rather than adding to them. A worker killed at any point leaves its rows leased
   until the lease runs out; the next pass finds what was already done and does the rest.
3. Failures that may go away (network, timeout, 5xx, 429) are retried with exponential
   backoff; a 4xx answer marks the row failed, with its error, until an admin retries it.

Group changes travel the same way: :data:`sso.groups.signals.membership_changed` and
``group_renamed`` add a ``groups`` row per (app, user) in the same transaction, and delivery
brings the user's membership of the app's groups (``PATCH /Groups/{id}``, RFC 7644 section
3.5.2) to the hub's current groups. As on the pairing page, only the departments both systems
know are touched (same name after :func:`sso.base.identity.normalize_key`): the app's other
groups are left as they are, and no group is created in the app. A ``groups`` row also keeps
the names of the groups its change concerned (a deleted group's, a renamed group's old and
new name): the app's departments of those names are the hub's to manage too, so a user leaves
the app's department of a group the hub deleted or renamed since.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import and_, delete, func, insert, or_, select, update

from sso.accounts.models import User
from sso.accounts.signals import AccountChange, accounts_changed
from sso.audit import record
from sso.audit.service import register_events
from sso.base import context
from sso.base.db import db, transaction
from sso.base.identity import normalize_key
from sso.connected_apps.models import ConnectedApp
from sso.groups.service import list_groups, memberships
from sso.groups.signals import group_renamed, membership_changed

from .models import DirectorySetting, OutboxEntry, ProvisioningLink, ProvisioningStatus, _aware
from .scim_client import DeliveryError, Desired, ScimClient, fields_differ

GROUPS = "groups"  # the outbox kind of "this user's groups changed"

log = logging.getLogger(__name__)

EVENTS = ("provisioning_failed", "provisioning_retried")
register_events(*EVENTS)

ALL_FIELDS = ("login", "email", "name", "active")


# -- 1. writing the outbox, inside the hub's transaction -------------------------------------------


def scim_app_ids() -> list[int]:
    """The enabled connected apps whose directory can provision (SCIM)."""
    return list(
        db.session.scalars(
            select(DirectorySetting.app_id)
            .join(ConnectedApp, ConnectedApp.id == DirectorySetting.app_id)
            .where(DirectorySetting.kind == "scim", ConnectedApp.enabled.is_(True))
        )
    )


def enqueue(sender: Flask, changes: list[AccountChange], **_: Any) -> None:
    """The :data:`accounts_changed` receiver: one outbox row per change and SCIM app.

    Runs inside the hub's transaction and only adds rows to its session (no commit)."""
    _add_rows(sender, [(change.user_id, change.kind, change.old_login) for change in changes])


def _add_rows(
    sender: Flask, changes: list[tuple[int, str, str | None]], group_names: list[str] | None = None
) -> None:
    """One outbox row per (user id, kind, old login) and SCIM app, in the caller's transaction;
    ``group_names``: the groups the change concerned, as named now."""
    if sender is not current_app._get_current_object():  # type: ignore[attr-defined]
        return  # another app object in the same process (tests make several)
    apps = scim_app_ids()
    if not apps or not changes:
        return
    now = context.now()
    rows = [
        {
            "app_id": app_id, "user_id": user_id, "kind": kind, "old_login": old_login,
            "group_names": group_names, "created_at": now, "attempts": 0, "next_attempt_at": now,
        }
        for user_id, kind, old_login in changes
        for app_id in apps
    ]
    db.session.execute(insert(OutboxEntry), rows)


def enqueue_membership(sender: Flask, user: User, group: str, **_: Any) -> None:
    """The :data:`membership_changed` receiver: the user's groups are to be sent again
    (``group`` kept: deleting a group sends this, and then the hub no longer has its name)."""
    _add_rows(sender, [(user.id, GROUPS, None)], [group])


def enqueue_renamed(sender: Flask, user_ids: list[int], old_name: str, new_name: str, **_: Any) -> None:
    """The :data:`group_renamed` receiver: each member's groups are to be sent again
    (both names kept: the old one is no longer the hub's, but the app may still have it)."""
    _add_rows(sender, [(user_id, GROUPS, None) for user_id in user_ids], [old_name, new_name])


def init_app(app: Flask) -> None:
    """Subscribe the receivers (weakly held by blinker, so keep module-level functions)."""
    accounts_changed.connect(enqueue)
    membership_changed.connect(enqueue_membership)
    group_renamed.connect(enqueue_renamed)


# -- 2. delivering ----------------------------------------------------------------------------------


@dataclass
class PassResult:
    """What one worker pass did."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.delivered + self.retried + self.failed


def _fields_for(kinds: Iterable[str]) -> tuple[str, ...]:
    # Every kind today is "bring login, e-mail, name and active in line with the hub".
    return ALL_FIELDS


def backoff_seconds(attempts: int) -> float:
    """How long to wait before attempt ``attempts + 1``: base * 2**(attempts-1), capped."""
    config = current_app.config
    base = float(config["PROVISIONING_BACKOFF_BASE"])
    cap = float(config["PROVISIONING_BACKOFF_MAX"])
    return float(min(cap, base * (2 ** max(0, attempts - 1))))


class Worker:
    """Delivers due outbox rows. ``owner`` names this worker in the leases it takes."""

    def __init__(self, owner: str | None = None) -> None:
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]

    # -- leasing --------------------------------------------------------------------------------

    def lease(self, limit: int) -> list[OutboxEntry]:
        """Take up to ``limit`` due rows for this worker (rows another live worker holds are skipped)."""
        now = context.now()
        until = now + timedelta(seconds=float(current_app.config["PROVISIONING_LEASE"]))
        due = and_(
            OutboxEntry.failed_at.is_(None),
            OutboxEntry.next_attempt_at <= now,
            or_(OutboxEntry.lease_until.is_(None), OutboxEntry.lease_until < now),
        )
        with transaction():
            ids = list(db.session.scalars(select(OutboxEntry.id).where(due).order_by(OutboxEntry.id).limit(limit)))
            if not ids:
                return []
            # The condition is repeated: of two workers racing for a row, one update wins.
            db.session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id.in_(ids), due)
                .values(lease_until=until, lease_owner=self.owner)
                .execution_options(synchronize_session=False)
            )
        return list(
            db.session.scalars(
                select(OutboxEntry)
                .where(OutboxEntry.id.in_(ids), OutboxEntry.lease_owner == self.owner, OutboxEntry.lease_until == until)
                .order_by(OutboxEntry.id)
            )
        )

    # -- one pass -------------------------------------------------------------------------------

    def run_once(self, limit: int | None = None) -> PassResult:
        """Deliver the due rows (at most ``limit``, default ``PROVISIONING_BATCH``) once."""
        batch = int(limit or current_app.config["PROVISIONING_BATCH"])
        rows = self.lease(batch)
        result = PassResult()
        groups: dict[tuple[int, int], list[OutboxEntry]] = {}
        for row in rows:
            groups.setdefault((row.app_id, row.user_id), []).append(row)
        clients: dict[int, ScimClient | None] = {}
        try:
            for (app_id, user_id), entries in groups.items():
                if app_id not in clients:
                    clients[app_id] = _client_for(app_id)
                client = clients[app_id]
                try:
                    if client is None:
                        _settle(entries, app_id)  # the app no longer provisions: nothing to send
                        result.delivered += len(entries)
                        continue
                    deliver(client, app_id, user_id, entries)
                    result.delivered += len(entries)
                except DeliveryError as err:
                    if _failed(entries, app_id, err):
                        result.retried += len(entries)
                    else:
                        result.failed += len(entries)
        finally:
            for client in clients.values():
                if client is not None:
                    client.close()
        return result

    def run(self, *, stop: threading.Event | None = None, once: bool = False) -> None:
        """Deliver until ``stop`` is set: a pass, then (when idle) wait ``PROVISIONING_POLL`` seconds."""
        stop = stop or threading.Event()
        poll = float(current_app.config["PROVISIONING_POLL"])
        while not stop.is_set():
            try:
                done = self.run_once()
            except Exception:  # keep the worker alive; the rows stay in the outbox
                log.exception("provisioning pass failed")
                done = PassResult()
            finally:
                db.session.remove()  # a fresh session per pass: nothing stale is kept
            if once:
                return
            if done.handled == 0:
                stop.wait(poll)


def _client_for(app_id: int) -> ScimClient | None:
    from .service import directory_config

    app = db.session.get(ConnectedApp, app_id)
    if app is None:
        return None
    setting = db.session.scalars(select(DirectorySetting).where(DirectorySetting.app_id == app_id)).first()
    if setting is None or setting.kind != "scim":
        return None
    config = directory_config(app)
    assert config.url is not None and config.token is not None
    return ScimClient(
        config.url, config.token,
        timeout=float(current_app.config["PAIRING_SOURCE_TIMEOUT"]),
        retries=int(current_app.config["PROVISIONING_RETRIES"]),
    )


def deliver(client: ScimClient, app_id: int, user_id: int, entries: list[OutboxEntry]) -> str:
    """Bring ``app_id``'s copy of hub user ``user_id`` to the hub's current state; settle ``entries``.

    Returns what was done: ``created``, ``patched``, ``unchanged`` or ``skipped``.
    """
    user = db.session.get(User, user_id)
    if user is None:
        _settle(entries, app_id)
        return "skipped"
    desired = Desired(user.login, user.email, user.name, bool(user.active), str(user.id))
    link = db.session.scalars(
        select(ProvisioningLink).where(ProvisioningLink.app_id == app_id, ProvisioningLink.user_id == user_id)
    ).first()
    remote = client.get(link.remote_id) if link is not None else None
    if remote is None:
        logins = [user.login] + [e.old_login for e in entries if e.old_login and e.old_login != user.login]
        for login in logins:
            remote = client.find(login)
            if remote is not None:
                break
    kinds = {e.kind for e in entries}
    if remote is None:
        if "created" not in kinds or not desired.active:
            _settle(entries, app_id)  # not in the app, and this change does not ask for it there
            return "skipped"
        remote = client.create(desired)
        outcome = "created"
    else:
        changed = tuple(f for f in _fields_for(kinds) if f in fields_differ(remote, desired))
        client.patch(str(remote.id), desired, changed)
        outcome = "patched" if changed else "unchanged"
    if (GROUPS in kinds or outcome == "created") and remote.id is not None:
        concerned = [name for e in entries for name in e.group_names or ()]
        if sync_groups(client, user, str(remote.id), concerned) and outcome == "unchanged":
            outcome = "patched"
    _settle(entries, app_id, remote_id=str(remote.id) if remote.id is not None else None, user_id=user_id)
    return outcome


def sync_groups(client: ScimClient, user: User, remote_id: str, concerned: Iterable[str] = ()) -> bool:
    """Make the app user ``remote_id`` a member of exactly the departments both systems know
    that ``user`` belongs to in the hub: one ``PATCH /Groups/{id}`` per group to join or
    leave. ``concerned``: names of hub groups the delivered changes were about, which the hub
    may have deleted or renamed since; the app's departments of those names are managed too
    (left, unless the user is in a hub group of that name now). Sets rather than toggles, so
    delivering twice changes nothing. True if it changed any."""
    hub_groups = {normalize_key(g.name) for g in list_groups()} | {normalize_key(n) for n in concerned}
    wanted = {normalize_key(name) for name in memberships([user.id]).get(user.id, [])}
    changed = False
    for group in client.groups():
        key = normalize_key(group.name)
        if key not in hub_groups:
            continue  # a department the hub does not know: not the hub's to manage
        if key in wanted and remote_id not in group.members:
            client.change_members(group, add=[remote_id])
            changed = True
        elif key not in wanted and remote_id in group.members:
            client.change_members(group, remove=[remote_id])
            changed = True
    return changed


def _settle(
    entries: list[OutboxEntry], app_id: int, *, remote_id: str | None = None, user_id: int | None = None
) -> None:
    """Delete delivered rows, remember the app's id for the user, record the sync; one commit."""
    now = context.now()
    with transaction():
        db.session.execute(
            delete(OutboxEntry).where(OutboxEntry.id.in_([e.id for e in entries])).execution_options(
                synchronize_session=False
            )
        )
        if remote_id is not None and user_id is not None:
            link = db.session.scalars(
                select(ProvisioningLink).where(ProvisioningLink.app_id == app_id, ProvisioningLink.user_id == user_id)
            ).first()
            if link is None:
                db.session.add(ProvisioningLink(app_id=app_id, user_id=user_id, remote_id=remote_id[:255]))
            else:
                link.remote_id = remote_id[:255]
        status = _status_row(app_id)
        status.last_sync_at = now
        status.delivered = (status.delivered or 0) + len(entries)


def _failed(entries: list[OutboxEntry], app_id: int, err: DeliveryError) -> bool:
    """Record a failed delivery: retry later with backoff (True) or mark the rows failed (False)."""
    now = context.now()
    with transaction():
        for entry in entries:
            entry.attempts = (entry.attempts or 0) + 1
            entry.last_error = err.message[:1000]
            entry.lease_until = None
            entry.lease_owner = None
            if err.retryable:
                entry.next_attempt_at = now + timedelta(seconds=backoff_seconds(entry.attempts))
            else:
                entry.failed_at = now
        status = _status_row(app_id)
        status.last_error, status.last_error_at = err.message[:1000], now
        if not err.retryable:
            app = db.session.get(ConnectedApp, app_id)
            record("provisioning_failed", app=app, detail={"user_id": entries[0].user_id, "error": err.message})
    return err.retryable


def _status_row(app_id: int) -> ProvisioningStatus:
    status = db.session.scalars(select(ProvisioningStatus).where(ProvisioningStatus.app_id == app_id)).first()
    if status is None:
        status = ProvisioningStatus(app_id=app_id, delivered=0)
        db.session.add(status)
    return status


# -- 3. watching and retrying ------------------------------------------------------------------------


@dataclass(frozen=True)
class AppProvisioning:
    """The provisioning state of one app, for its page and the CLI."""

    enabled: bool
    pending: int
    failed: int
    last_sync_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None

    @property
    def error_is_current(self) -> bool:
        if self.last_error_at is None:
            return False
        return self.last_sync_at is None or _aware(self.last_error_at) >= _aware(self.last_sync_at)


def app_status(app: ConnectedApp) -> AppProvisioning:
    """Pending and failed row counts, last sync and last error of ``app``."""
    pending, failed = db.session.execute(
        select(
            func.count(OutboxEntry.id).filter(OutboxEntry.failed_at.is_(None)),
            func.count(OutboxEntry.id).filter(OutboxEntry.failed_at.is_not(None)),
        ).where(OutboxEntry.app_id == app.id)
    ).one()
    status = db.session.scalars(select(ProvisioningStatus).where(ProvisioningStatus.app_id == app.id)).first()
    return AppProvisioning(
        enabled=app.id in scim_app_ids(),
        pending=int(pending or 0),
        failed=int(failed or 0),
        last_sync_at=status.last_sync_at if status else None,
        last_error=status.last_error if status else None,
        last_error_at=status.last_error_at if status else None,
    )


def retry_failed(app: ConnectedApp, *, actor: str | None = None) -> int:
    """Put ``app``'s failed rows back in the queue (after the admin fixed the cause); audited."""
    now = context.now()
    with transaction():
        result = db.session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.app_id == app.id, OutboxEntry.failed_at.is_not(None))
            .values(failed_at=None, next_attempt_at=now, attempts=0)
            .execution_options(synchronize_session=False)
        )
        count = int(getattr(result, "rowcount", 0) or 0)
        record("provisioning_retried", app=app, actor=actor, detail={"rows": count})
    return count
