"""The hub's one exception family. Pure: no Flask.

Use cases raise these; the web layer (:mod:`sso.error_pages`) renders them as a page
with the status and the plain message, the CLI prints the message.
"""

from __future__ import annotations

__all__ = ["Conflict", "ConfigError", "Forbidden", "HubError", "NotFound", "ValidationError"]


class HubError(Exception):
    """Base of every error the hub raises on purpose."""

    status = 400
    default_message = "The request could not be handled."
    title: str | None = None  # the error page's heading; None: a generic one for the status
    field: str | None = None  # the form field the message is about, when there is one

    def __init__(self, message: str | None = None, *, title: str | None = None, field: str | None = None) -> None:
        self.message = message or self.default_message
        if title is not None:
            self.title = title
        if field is not None:
            self.field = field
        super().__init__(self.message)


class ValidationError(HubError):
    """Input a user can fix: the message says what is wrong."""

    status = 400


class NotFound(HubError):
    """Something named in the request does not exist."""

    status = 404
    default_message = "Not found."


class Forbidden(HubError):
    """The request is understood but refused."""

    status = 403
    default_message = "You are not allowed to do this."


class Conflict(HubError):
    """The request is valid but the thing it names is not in a state to serve it."""

    status = 409
    default_message = "This cannot be done right now."


class ConfigError(HubError):
    """Bad configuration: raised at start-up, names the variable to fix."""

    status = 500
