"""``flask --app wsgi users ...``: create users, import a CSV file, print a set-password link."""

from __future__ import annotations

import sys

import click
from flask import current_app, url_for
from flask.cli import AppGroup

from ..audit import record
from sso.base.errors import ValidationError
from .service import create_user, find_user, import_users_csv, make_set_password_token

users = AppGroup("users", help="Manage hub users.")


def _fail(message: str) -> None:
    raise click.ClickException(message)


@users.command("create")
@click.argument("login")
@click.argument("email")
@click.option("--name", default=None, help="Display name.")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_command(login: str, email: str, name: str | None, admin: bool, password_stdin: bool) -> None:
    """Create a user. Without a password, prints a set-password link."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = create_user(login, email, name, admin=admin, password=password)
    except ValidationError as err:
        _fail(err.message)
        return
    record("user_created", user=user, actor="cli", detail={"login": user.login, "admin": user.is_admin})
    click.echo(f"Created user {user.login} <{user.email}>{' (admin)' if admin else ''}.")
    if password is None:
        click.echo(f"Set-password link: {_link(user)}")


def _link(user) -> str:  # type: ignore[no-untyped-def]
    token = make_set_password_token(user)
    base = current_app.config.get("BASE_URL") or "http://127.0.0.1:5000"
    with current_app.test_request_context():
        path = url_for("accounts.set_password", token=token)
    return f"{base}{path}"


@users.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_command(file: str) -> None:
    """Import users from a CSV file with the header login,email,name (idempotent)."""
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            result = import_users_csv(handle)
    except ValidationError as err:
        _fail(err.message)
        return
    record("users_imported", actor="cli", detail={"created": result.created, "unchanged": result.unchanged,
                                                   "errors": len(result.errors)})
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
        _fail(f"No user {login!r}.")
        return
    record("password_link", user=user, actor="cli")
    click.echo(_link(user))
