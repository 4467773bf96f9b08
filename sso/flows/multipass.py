"""Multipass (Shopify format) as a sign-on protocol."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sso.base import context
from sso.multipass import MultipassCodec

from .protocol import SignOnProtocol, add_query_parameter, escape_token

if TYPE_CHECKING:
    from ..accounts.models import User
    from ..connected_apps.service import IssuingApp

TOKEN_PARAMETER = "multipass"


def split_name(name: str | None) -> tuple[str | None, str | None]:
    """First and last name when the display name is exactly two words, else unknown."""
    parts = (name or "").split()
    if len(parts) == 2:
        return parts[0], parts[1]
    return None, None


class MultipassProtocol(SignOnProtocol):
    """Issues Multipass tokens with the codec that ``codec_for(app)`` returns."""

    name = "multipass"

    def __init__(
        self,
        codec_for: Callable[[IssuingApp], MultipassCodec],
        now: Callable[[], datetime] | None = None,
        groups_of: Callable[[User], list[str]] | None = None,
    ) -> None:
        self._codec_for = codec_for
        self._now = now
        self._groups_of = groups_of

    def claims(
        self, user: User, app: IssuingApp, return_to: str | None, *, now: datetime | None = None
    ) -> dict[str, object]:
        """email, login, identifier, name, first/last name when known, groups, jti, ``aud``
        (the app's slug), ``created_at`` and ``exp`` (created_at + the app's token lifetime,
        epoch seconds), return_to.

        ``groups`` (the names of the user's hub groups, possibly empty) is an extra claim:
        apps that do not know it ignore it.
        """
        moment = (now or self._clock()).astimezone(UTC).replace(microsecond=0)
        body: dict[str, object] = {
            "email": user.email,
            "login": user.login,
            "identifier": str(user.id),
            "name": user.display_name,
            "jti": secrets.token_urlsafe(18),
            "aud": app.slug,
            "created_at": moment.isoformat(),
            "exp": int(moment.timestamp()) + int(app.token_lifetime),
        }
        first, last = split_name(user.name)
        if first and last:
            body["first_name"], body["last_name"] = first, last
        if self._groups_of is not None:
            body["groups"] = list(self._groups_of(user))
        if return_to:
            body["return_to"] = return_to
        return body

    def _clock(self) -> datetime:
        return self._now() if self._now else context.now()

    def token(self, user: User, app: IssuingApp, return_to: str | None) -> str:
        """A fresh token for ``user`` at ``app``."""
        return self._codec_for(app).encode(self.claims(user, app, return_to))

    def issue(
        self, user: User, app: IssuingApp, return_to: str | None, *, login_url: str | None = None
    ) -> str:
        token = self.token(user, app, return_to)
        if login_url is not None:
            return add_query_parameter(login_url, TOKEN_PARAMETER, token)
        return app.login_url_template.replace("{token}", escape_token(token))
