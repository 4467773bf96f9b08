"""The hub's user account."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sso.base.clock import utcnow
from sso.base.db import Base


def new_session_nonce() -> str:
    """A fresh value that invalidates every session issued before it."""
    return secrets.token_urlsafe(16)


class User(Base):
    """A person who logs in at the hub.

    ``login_key`` and ``email_key`` hold the normalised forms that carry the
    case-insensitive uniqueness. ``session_nonce`` is part of the flask-login id:
    changing it (logout, password change, deactivation) ends every session of the user.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64))
    login_key: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(400), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    session_nonce: Mapped[str] = mapped_column(String(64), default=new_session_nonce)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    # -- flask-login protocol ---------------------------------------------------------
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_nonce}"

    @property
    def display_name(self) -> str:
        return self.name or self.login

    def __repr__(self) -> str:
        return f"<User {self.id} {self.login!r}>"
