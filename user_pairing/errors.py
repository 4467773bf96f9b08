"""The one exception family of :mod:`user_pairing`.

Messages are written for an administrator: they say what failed and what to check, and they
never contain a token, a password or a URL's query string.
"""

from __future__ import annotations

#: The kinds of :class:`SourceError`, each a thing an admin can act on.
SOURCE_ERROR_KINDS = frozenset(
    {
        "unreachable",  # connection refused, DNS failure, connection dropped
        "timeout",  # no answer within the configured time
        "unauthorized",  # 401 or 403: the token is wrong or lacks rights
        "not_found",  # 404: the URL does not point at a directory
        "server_error",  # 5xx
        "rejected",  # any other 4xx, e.g. a provisioning request the app refused
        "conflict",  # 409: the user already exists in the app
        "malformed",  # not JSON, or JSON of the wrong shape, or a bad CSV row
        "missing_page",  # a page ended before the announced total was reached
        "too_large",  # more pages or users than the guards allow
        "unsupported",  # the source cannot do this (e.g. provisioning from a CSV)
    }
)


class PairingError(Exception):
    """Base class of every error raised by this package."""


class ConfigError(PairingError):
    """A directory configuration is invalid; the message says what to set.

    ``field`` names the directory form's field it is about, when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class SourceError(PairingError):
    """A directory source failed. ``kind`` is one of :data:`SOURCE_ERROR_KINDS`."""

    def __init__(self, kind: str, message: str) -> None:
        if kind not in SOURCE_ERROR_KINDS:
            raise ValueError(f"unknown SourceError kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __repr__(self) -> str:
        return f"SourceError({self.kind!r}, {self.message!r})"


class FixError(PairingError):
    """A fix cannot be made as asked (e.g. the user is no longer missing); the message says why."""
