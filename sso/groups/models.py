"""Groups, their members, and the groups an app is restricted to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sso.base.clock import utcnow
from sso.base.db import Base

MAX_GROUP_NAME = 100  # its key is at most 3x longer (case folding): fits 300


class Group(Base):
    """A group of hub users; a department is a group.

    ``name`` is shown as the admin typed it (trimmed, NFC); ``name_key`` is its
    :func:`sso.base.identity.normalize_key` form and carries the case-insensitive uniqueness.
    """

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_GROUP_NAME))
    name_key: Mapped[str] = mapped_column(String(3 * MAX_GROUP_NAME), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def __repr__(self) -> str:
        return f"<Group {self.id} {self.name!r}>"


class GroupMember(Base):
    """One user in one group."""

    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AppAccess(Base):
    """An app restricted to chosen groups. No row: the app is open to every user.

    A restricted app whose groups are all deleted stays restricted (to nobody): deleting a
    group never opens an app to everyone.
    """

    __tablename__ = "app_access"

    app_id: Mapped[int] = mapped_column(ForeignKey("connected_apps.id", ondelete="CASCADE"), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class AppAccessGroup(Base):
    """One group allowed to open a restricted app."""

    __tablename__ = "app_access_groups"

    app_id: Mapped[int] = mapped_column(ForeignKey("app_access.app_id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True)
