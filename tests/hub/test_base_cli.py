"""sso.base.cli: one mapping of a use case's error to ``Error: <message>`` and exit code 1."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner, Result
from flask import Flask

from sso.base.cli import HubGroup, reported
from sso.base.errors import NotFound


class PluginError(Exception):
    """A plugin's own error family, not a HubError."""


def _group() -> HubGroup:
    group = HubGroup("things", reported=(PluginError,))

    @group.command("hub")
    def hub() -> None:
        click.echo("before")
        raise NotFound("No such thing.")

    @group.command("plugin")
    def plugin() -> None:
        raise PluginError("The directory is unreachable.")

    @group.command("other")
    def other() -> None:
        raise KeyError("not ours")

    @group.command("prefixed")
    @click.argument("name")
    @reported(OSError, prefix="Refresh failed: ")
    def prefixed(name: str) -> None:
        raise OSError(f"cannot read {name}")

    sub = HubGroup("sub")
    group.add_command(sub)

    @sub.command("deep")
    def deep() -> None:
        raise NotFound()

    return group


def _run(args: list[str]) -> Result:
    with Flask(__name__).app_context():  # what ``flask --app wsgi`` gives the commands
        return CliRunner().invoke(_group(), args)


@pytest.mark.parametrize(("args", "output"), [
    (["hub"], "before\nError: No such thing.\n"),
    (["plugin"], "Error: The directory is unreachable.\n"),
    (["prefixed", "x.csv"], "Error: Refresh failed: cannot read x.csv\n"),
    (["sub", "deep"], "Error: Not found.\n"),
])
def test_errors_are_printed_with_exit_code_1(args: list[str], output: str) -> None:
    result = _run(args)
    assert (result.exit_code, result.output) == (1, output)
    assert "Traceback" not in result.output


def test_other_exceptions_are_not_hidden() -> None:
    result = _run(["other"])
    assert isinstance(result.exception, KeyError)

