"""The one exception family of :mod:`sso.multipass`.

Every failure to read a token surfaces as :class:`InvalidToken` (or a subclass), with
the same message whatever went wrong, so that nothing an attacker sees tells a bad MAC
from bad padding or bad JSON. The precise reason is written to the server log only.
"""

from __future__ import annotations

GENERIC_MESSAGE = "Invalid Multipass token"


class MultipassError(Exception):
    """Base class of every error raised by this package."""


class InvalidToken(MultipassError):
    """The token cannot be accepted. Deliberately says nothing more."""

    def __init__(self, message: str = GENERIC_MESSAGE) -> None:
        super().__init__(message)


class ExpiredToken(InvalidToken):
    """The token is authentic but older than its maximum age."""


class ReplayedToken(InvalidToken):
    """The token is authentic but was used before."""


class ReplayStoreError(MultipassError):
    """The replay store could not be reached; the token must be refused (fail closed)."""
