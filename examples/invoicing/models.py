"""Accounts, departments (groups), pending account switches and sample invoices (SQLAlchemy 2.0)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from sso.base.identity import normalize_key

from .db import db


def _now() -> datetime:
    return datetime.now(UTC)


def _nonce() -> str:
    return secrets.token_hex(16)


#: Who belongs to which department. Rows go with the account or the group (ON DELETE CASCADE).
memberships = sa.Table(
    "group_members",
    db.Model.metadata,
    sa.Column("group_id", sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("account_id", sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
)


class Account(db.Model):  # type: ignore[name-defined]
    """A user of the invoicing app.

    ``login`` and ``email`` keep what was entered; ``login_key`` and ``email_key`` hold the
    forms of :func:`sso.base.identity.normalize_key` (the hub's rule) and carry the uniqueness,
    so ``Ann`` and ``ann`` can never be two accounts.

    ``email`` may be unset (SCIM does not require one; such an account cannot sign in through
    the hub, which always sends an e-mail), and so may ``active`` (SCIM lets a client remove
    the attribute): unset counts as active, only ``False`` blocks.

    ``session_nonce`` is part of the id kept in the session cookie (``"<id>.<nonce>"``):
    changing it ends every session of the account, including copies of the cookie.
    Logout, the hub's front-channel logout and deactivation change it.
    """

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(150))
    login_key: Mapped[str] = mapped_column(sa.String(150), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(254))
    email_key: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    active: Mapped[bool | None] = mapped_column(default=True)
    session_nonce: Mapped[str] = mapped_column(sa.String(32), default=_nonce)
    external_id: Mapped[str | None] = mapped_column(sa.String(200))  # the provisioning client's id (SCIM)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_now, onupdate=_now)

    invoices: Mapped[list[Invoice]] = relationship(back_populates="issued_by", passive_deletes=True)
    groups: Mapped[list[Group]] = relationship(
        secondary=memberships, back_populates="members", order_by="Group.id", passive_deletes=True
    )

    @classmethod
    def new(cls, login: str, email: str | None, name: str = "", active: bool | None = True) -> Account:
        """An account with its normalised keys filled in."""
        account = cls(login=login, login_key=normalize_key(login), name=name or login, active=active,
                      session_nonce=_nonce())
        account.set_email(email)
        return account

    def set_login(self, login: str) -> None:
        self.login, self.login_key = login, normalize_key(login)

    def set_email(self, email: str | None) -> None:
        self.email = email
        self.email_key = normalize_key(email) if email else None

    def end_sessions(self) -> None:
        """Invalidate every session cookie issued for this account (the caller commits)."""
        self.session_nonce = _nonce()

    @validates("active")
    def _deactivation_ends_sessions(self, _key: str, value: bool | None) -> bool | None:
        # Whatever deactivates the account (SCIM PUT or PATCH, an administrator), its open
        # sessions end, and stay ended if it is reactivated later.
        if value is False and self.active is not False:
            self.end_sessions()
        return value

    # flask-login's user protocol, spelled out rather than inherited from UserMixin.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active is not False

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_nonce}"


class Group(db.Model):  # type: ignore[name-defined]
    """A department: a named set of accounts (SCIM ``Groups``). Names are unique, compared normalised."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    display_name_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    external_id: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_now, onupdate=_now)

    members: Mapped[list[Account]] = relationship(
        secondary=memberships, back_populates="groups", order_by="Account.id", passive_deletes=True
    )

    def set_display_name(self, name: str) -> None:
        self.display_name, self.display_name_key = name, normalize_key(name)


class PendingSignIn(db.Model):  # type: ignore[name-defined]
    """A verified sign-in for another account than the signed-in one, waiting for the user's yes.

    The token itself is already used up; only its checked claims are kept, for a few minutes,
    under the SHA-256 of a random key that lives in the asking browser's session.
    """

    __tablename__ = "pending_sign_ins"

    key_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    claims: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_now, index=True)


class Invoice(db.Model):  # type: ignore[name-defined]
    """A sample invoice. Amounts are whole cents (SQLite has no exact decimal type)."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    client: Mapped[str] = mapped_column(sa.String(200))
    amount_cents: Mapped[int]
    issued_on: Mapped[date] = mapped_column(default=lambda: _now().date())
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id", ondelete="SET NULL"))

    issued_by: Mapped[Account | None] = relationship(back_populates="invoices")

    @property
    def amount(self) -> str:
        """The amount as text, e.g. ``1,234.50``."""
        return f"{self.amount_cents / 100:,.2f}"
