"""Accounts and sample invoices (SQLAlchemy 2.0 typed models)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sso.base.identity import normalize_key

from .db import db


def _now() -> datetime:
    return datetime.now(UTC)


class Account(db.Model):  # type: ignore[name-defined]
    """A user of the invoicing app.

    ``login`` and ``email`` keep what was entered; ``login_key`` and ``email_key`` hold the
    forms of :func:`sso.base.identity.normalize_key` (the hub's rule) and carry the uniqueness,
    so ``Ann`` and ``ann`` can never be two accounts.
    """

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(150))
    login_key: Mapped[str] = mapped_column(sa.String(150), unique=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    email_key: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_now)

    invoices: Mapped[list[Invoice]] = relationship(back_populates="issued_by")

    @classmethod
    def new(cls, login: str, email: str, name: str = "", active: bool = True) -> Account:
        """An account with its normalised keys filled in."""
        return cls(
            login=login,
            login_key=normalize_key(login),
            email=email,
            email_key=normalize_key(email),
            name=name or login,
            active=active,
        )

    # flask-login's user protocol, spelled out rather than inherited from UserMixin.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class Invoice(db.Model):  # type: ignore[name-defined]
    """A sample invoice. Amounts are whole cents (SQLite has no exact decimal type)."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    client: Mapped[str] = mapped_column(sa.String(200))
    amount_cents: Mapped[int]
    issued_on: Mapped[date] = mapped_column(default=lambda: _now().date())
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))

    issued_by: Mapped[Account | None] = relationship(back_populates="invoices")

    @property
    def amount(self) -> str:
        """The amount as text, e.g. ``1,234.50``."""
        return f"{self.amount_cents / 100:,.2f}"
