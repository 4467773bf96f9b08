"""A connected app and its Multipass secrets (encrypted at rest)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sso.base.clock import utcnow
from sso.base.db import Base

DEFAULT_TOKEN_LIFETIME = 900  # seconds, Shopify's 15 minutes
PROTOCOLS = ("multipass", "oidc")


class ConnectedApp(Base):
    """An app users can jump to with a Multipass token."""

    __tablename__ = "connected_apps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    login_url_template: Mapped[str] = mapped_column(String(2048))
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    token_lifetime: Mapped[int] = mapped_column(Integer, default=DEFAULT_TOKEN_LIFETIME)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    logout_url: Mapped[str | None] = mapped_column(String(2048))
    # Where the service-initiated flow may send a token: exact URLs (scheme, host, port, path, query).
    login_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    # "multipass" (a token to login_url_template) or "oidc" (the app is an OpenID Connect
    # client, see sso.oidc; login_url_template is then empty).
    protocol: Mapped[str] = mapped_column(String(16), default="multipass", server_default="multipass")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    secrets: Mapped[list[AppSecret]] = relationship(
        back_populates="app", order_by="AppSecret.id.desc()", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<ConnectedApp {self.slug!r}>"


# The life of a secret: staged (the app learns it), active (the hub issues with it),
# previous (the app may still accept it), retired (gone everywhere).
NEXT, ACTIVE, PREVIOUS, RETIRED = "next", "active", "previous", "retired"
SECRET_STATES = (NEXT, ACTIVE, PREVIOUS, RETIRED)


def fingerprint(plain: str) -> str:
    """What the pages show to tell secrets apart: the first 8 hex digits of SHA-256(secret)."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()[:8]


class AppSecret(Base):
    """One Multipass secret of an app, Fernet-encrypted, in one of :data:`SECRET_STATES`.

    At most one secret of an app is ``next``, one ``active`` and one ``previous``; the
    hub issues with the active one only."""

    __tablename__ = "app_secrets"
    __table_args__ = (
        # One next, one active, one previous per app, even when two admins act at once.
        Index("uq_app_secrets_live_state", "app_id", "state", unique=True,
              sqlite_where=text("state != 'retired'"), postgresql_where=text("state != 'retired'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("connected_apps.id", ondelete="CASCADE"), index=True)
    encrypted_value: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When a token was last issued with it; written at most once a minute per worker.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    app: Mapped[ConnectedApp] = relationship(back_populates="secrets")

    @property
    def masked(self) -> str:
        """What the admin pages show after the first display."""
        return "•" * 16

    @property
    def status(self) -> str:
        return self.state
