"""``flask --app wsgi users ...``: create users, import a CSV file, print a set-password link.

Thin: each command parses its arguments, calls one use case of :mod:`.service` and turns
a :class:`~sso.base.errors.HubError` into a message and a non-zero exit (:mod:`sso.base.cli`).
"""

from __future__ import annotations

import sys

import click

from sso.base.cli import HubGroup

from .service import (
    create_user,
    find_user,
    import_users_csv,
    issue_set_password_link,
    make_set_password_token,
    set_password_url,
)

users = HubGroup("users", help="Manage hub users.")

ACTOR = "cli"


@users.command("create")
@click.argument("login")
@click.argument("email")
@click.option("--name", default=None, help="Display name.")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_command(login: str, email: str, name: str | None, admin: bool, password_stdin: bool) -> None:
    """Create a user. Without a password, prints a set-password link."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    user = create_user(login, email, name, admin=admin, password=password, actor=ACTOR)
    click.echo(f"Created user {user.login} <{user.email}>{' (admin)' if admin else ''}.")
    if password is None:
        click.echo(f"Set-password link: {set_password_url(make_set_password_token(user))}")


@users.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_command(file: str) -> None:
    """Import users from a CSV file with the header login,email,name (idempotent)."""
    with open(file, encoding="utf-8-sig", newline="") as handle:
        result = import_users_csv(handle, actor=ACTOR)
    click.echo(f"Created {result.created} users, {result.unchanged} already present, {len(result.errors)} errors.")
    for line, message in result.errors[:50]:
        click.echo(f"line {line}: {message}", err=True)
    if len(result.errors) > 50:
        click.echo(f"... and {len(result.errors) - 50} more errors", err=True)
    if result.errors:
        sys.exit(1)


@users.command("password-link")
@click.argument("login")
def password_link_command(login: str) -> None:
    """Print a set-password link for LOGIN (login or e-mail)."""
    user = find_user(login)
    if user is None:
        raise click.ClickException(f"No user {login!r}.")
    click.echo(set_password_url(issue_set_password_link(user, actor=ACTOR)))
