"""Where each connected app's directory lives, and the last good list of its users.

The Flask side of user pairing: these models use the hub's ``db``; the matching and the
sources stay pure. The directory token is stored encrypted with the hub's app-secret
:class:`~sso.connected_apps.secrets.SecretBox`, never in clear text.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sso.base.clock import utcnow
from sso.base.db import Base

from .matching import DirectoryUser
from .sources import DirectoryGroup


class DirectorySetting(Base):
    """How to reach one connected app's user directory (one per app)."""

    __tablename__ = "pairing_directories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("connected_apps.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(2048))
    encrypted_token: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class PairingSnapshot(Base):
    """The app's users as last fetched successfully, and the error of the last failed refresh.

    A failed refresh only sets ``error``/``error_at``: the users and ``taken_at`` of the
    last good fetch stay. Users are kept as one compact JSON array of
    ``[login, email, name, active, ref]`` (100,000 users load in a fraction of a second).
    """

    __tablename__ = "pairing_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("connected_apps.id", ondelete="CASCADE"), unique=True)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user_count: Mapped[int] = mapped_column(Integer, default=0)
    users_json: Mapped[str] = mapped_column(Text, default="[]", deferred=True)  # loaded only to match
    # The app's groups as ``[[id, displayName, [member refs]], ...]``; None: the directory has none.
    groups_json: Mapped[str | None] = mapped_column(Text, deferred=True)
    error: Mapped[str | None] = mapped_column(String(1000))
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Bumped by every successful refresh and every fix written into the stored users: two
    #: refreshes within one clock tick still differ (the stored report is keyed on it).
    version: Mapped[int] = mapped_column(Integer, default=0)
    #: A background refresh in progress: when it started and how far it got.
    refresh_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refresh_done: Mapped[int] = mapped_column(Integer, default=0)
    refresh_total: Mapped[int | None] = mapped_column(Integer)

    @property
    def has_users(self) -> bool:
        """True once a refresh has succeeded."""
        return self.taken_at is not None

    @property
    def error_is_current(self) -> bool:
        """The last refresh failed (its error is newer than the snapshot)."""
        if self.error_at is None:
            return False
        return self.taken_at is None or _aware(self.error_at) >= _aware(self.taken_at)

    def set_users(self, users: list[DirectoryUser], taken_at: datetime) -> None:
        """Replace the stored users (a successful refresh) and clear the error."""
        self.users_json = json.dumps(
            [[u.login, u.email, u.name, u.active, u.ref] for u in users], ensure_ascii=False, separators=(",", ":")
        )
        self.user_count = len(users)
        self.taken_at = taken_at
        self.error = self.error_kind = None
        self.error_at = None
        self.version = (self.version or 0) + 1

    def users(self) -> list[DirectoryUser]:
        """The stored users."""
        return [DirectoryUser(*item) for item in json.loads(self.users_json or "[]")]

    def set_groups(self, groups: list[DirectoryGroup] | None) -> None:
        """Store the app's groups (None: its directory offers none)."""
        self.groups_json = None if groups is None else json.dumps(
            [[g.ref, g.name, list(g.members)] for g in groups], ensure_ascii=False, separators=(",", ":")
        )

    def groups(self) -> list[DirectoryGroup] | None:
        """The stored groups of the app, or None when its directory offers none."""
        if self.groups_json is None:
            return None
        return [DirectoryGroup(ref, name, tuple(refs)) for ref, name, refs in json.loads(self.groups_json)]


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored in UTC.
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class PairingReport(Base):
    """The pairing table of one app, computed once per (snapshot version, hub users version)
    and shared by every worker: ``rows`` is a compressed blob (see ``service._pack``)."""

    __tablename__ = "pairing_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("connected_apps.id", ondelete="CASCADE"), unique=True)
    key: Mapped[str] = mapped_column(String(200))
    rows: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    counts: Mapped[str] = mapped_column(Text, default="{}")  # JSON {status: rows}, for the apps list
    built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboxEntry(Base):
    """One hub change still to be pushed to one connected app (the provisioning outbox).

    Written in the same transaction as the change itself, deleted in the transaction that
    records its delivery. ``lease_until`` marks a row a worker is working on; a worker that
    dies leaves a lease that simply runs out. ``failed_at`` is set when the app refused the
    change for good (a 4xx answer): the row stays, with its error, until an admin retries it.
    ``group_names`` (``groups`` rows) are the hub groups the change concerned, as named at the
    time: a group deleted or renamed since is no longer among the hub's groups, and without
    its old name the app's department of that name would keep the user.
    """

    __tablename__ = "provisioning_outbox"
    __table_args__ = (Index("ix_provisioning_outbox_due", "failed_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("connected_apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    old_login: Mapped[str | None] = mapped_column(String(64))
    group_names: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(1000))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProvisioningLink(Base):
    """Which account of a connected app a hub user was provisioned to (its SCIM ``id``)."""

    __tablename__ = "provisioning_links"
    __table_args__ = (UniqueConstraint("app_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("connected_apps.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    remote_id: Mapped[str] = mapped_column(String(255))


class ProvisioningStatus(Base):
    """How delivery to one connected app went lately (shown on its pairing page)."""

    __tablename__ = "provisioning_status"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("connected_apps.id", ondelete="CASCADE"), unique=True)
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
