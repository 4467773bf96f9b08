"""A connected app and its Multipass secrets (encrypted at rest)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
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


class AppSecret(Base):
    """One Multipass secret of an app, Fernet-encrypted. The current one issues tokens;
    earlier ones stay listed until retired so the app can accept both during a change-over."""

    __tablename__ = "app_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("connected_apps.id", ondelete="CASCADE"), index=True)
    encrypted_value: Mapped[str] = mapped_column(Text)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    app: Mapped[ConnectedApp] = relationship(back_populates="secrets")

    @property
    def masked(self) -> str:
        """What the admin pages show after the first display."""
        return "•" * 16

    @property
    def status(self) -> str:
        if self.retired_at is not None:
            return "retired"
        return "current" if self.is_current else "previous"
