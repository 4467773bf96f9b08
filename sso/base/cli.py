"""The one place where a use case's error becomes a command-line error.

Commands stay thin: they call a use case and print its result. A :class:`~.errors.HubError`
(or, for a plugin, its own error family) that escapes a command of a :class:`HubGroup` is
printed as ``Error: <message>`` with exit code 1, as :class:`click.ClickException` does,
instead of a traceback.

* ``HubGroup("users", help=...)`` in place of ``AppGroup``: every command of the group,
  and of its sub-groups, reports :class:`HubError`; ``reported=(PluginError,)`` adds more kinds.
* ``@reported(PluginError, prefix="Refresh failed: ")`` on one command: for a command that
  is added to another package's group, or whose message needs a prefix.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click
from flask.cli import AppGroup

from .errors import HubError

__all__ = ["HubGroup", "error_message", "reported"]

F = TypeVar("F", bound=Callable[..., Any])


def error_message(err: BaseException) -> str:
    """The text a person reads for ``err``: a HubError's message, else the exception's text."""
    return err.message if isinstance(err, HubError) else str(err)


def reported(*kinds: type[Exception], prefix: str = "") -> Callable[[F], F]:
    """Decorate a command: :class:`HubError` and ``kinds`` raised by it exit with
    ``Error: <prefix><message>``."""
    caught: tuple[type[Exception], ...] = (HubError, *kinds)

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except caught as err:
                raise click.ClickException(f"{prefix}{error_message(err)}") from err

        return run  # type: ignore[return-value]

    return decorate


class HubGroup(AppGroup):
    """An :class:`~flask.cli.AppGroup` whose commands report :class:`HubError` (and the
    ``reported`` kinds) as a :class:`click.ClickException` with the error's message."""

    def __init__(self, *args: Any, reported: Iterable[type[Exception]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reported: tuple[type[Exception], ...] = (HubError, *reported)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except self.reported as err:
            raise click.ClickException(error_message(err)) from err
