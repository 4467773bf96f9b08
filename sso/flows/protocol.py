"""The interface every sign-on protocol of the hub implements.

Multipass is the first; another (DiscourseConnect, OIDC...) would add a subclass and
a registry entry, the views stay the same.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from ..accounts.models import User
    from ..connected_apps.service import IssuingApp


_URLSAFE_TOKEN = re.compile(r"[A-Za-z0-9_-]*=*")


def escape_token(token: str) -> str:
    """``token`` percent-encoded for a URL path or query, nothing left as safe.

    A Multipass token is URL-safe base64, so only its ``=`` padding needs escaping; that
    case skips ``quote``'s per-character loop (measurable on every jump).
    """
    if _URLSAFE_TOKEN.fullmatch(token):
        return token.replace("=", "%3D")
    return quote(token, safe="")


def add_query_parameter(url: str, name: str, value: str) -> str:
    """``url`` with ``name=value`` in its query (replacing any ``name``), fully escaped.

    The value is percent-encoded with nothing left as safe, so ``+``, ``/`` and ``=``
    survive every query-string parser.
    """
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query = urlencode(pairs, quote_via=quote)
    extra = f"{quote(name, safe='')}={escape_token(value)}"
    query = f"{query}&{extra}" if query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class SignOnProtocol(Protocol):
    """Turns (user, app) into the URL that carries the user into the app."""

    name: ClassVar[str]

    def claims(self, user: User, app: IssuingApp, return_to: str | None) -> dict[str, object]:
        """What the token says about the user."""
        ...

    def issue(
        self, user: User, app: IssuingApp, return_to: str | None, *, login_url: str | None = None
    ) -> str:
        """Build the destination URL with a fresh token.

        Without ``login_url`` the app's login URL template is used (jump); with it (a URL
        already checked against the app's allowed origins) the token is added to its
        query (service-initiated).
        """
        ...
