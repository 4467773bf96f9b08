"""``flask --app wsgi apps ...``: register connected apps and rotate their secrets.

Thin: each command parses its arguments, calls one use case of :mod:`.service` and turns
a :class:`~sso.base.errors.HubError` into a message and a non-zero exit.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from sso.base.errors import HubError

from .service import add_app, current_secret, get_app, list_apps, rewrap_secrets, rotate_secret

apps = AppGroup("apps", help="Manage connected apps.")

ACTOR = "cli"


def _read_secret() -> str:
    return sys.stdin.readline().rstrip("\r\n")


def _print_generated(plain: str, pasted: str | None) -> None:
    if pasted is None:
        click.echo("Multipass secret (shown once, store it in the app now):")
        click.echo(plain)


@apps.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="Display name (the menu button).")
@click.option("--login-url", "login_url", required=True, help="Template with {token}.")
@click.option("--origin", "origins", multiple=True, help="Allowed origin (repeatable).")
@click.option("--lifetime", default=900, show_default=True, help="Token lifetime in seconds.")
@click.option("--logout-url", default=None, help="Front-channel logout URL.")
@click.option("--secret-stdin", is_flag=True, help="Read the secret from standard input.")
def add_command(slug: str, name: str, login_url: str, origins: tuple[str, ...], lifetime: int,
                logout_url: str | None, secret_stdin: bool) -> None:
    """Register a connected app; prints a generated secret once."""
    pasted = _read_secret() if secret_stdin else None
    try:
        app, plain = add_app(slug, name, login_url, list(origins), secret=pasted, token_lifetime=lifetime,
                             logout_url=logout_url, actor=ACTOR, shown_in="cli")
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"Registered app {app.slug} ({app.name}); allowed origins: {', '.join(app.allowed_origins)}")
    _print_generated(plain, pasted)


@apps.command("rotate-secret")
@click.argument("slug")
@click.option("--secret-stdin", is_flag=True, help="Read the new secret from standard input.")
def rotate_command(slug: str, secret_stdin: bool) -> None:
    """Issue from a new secret; the previous one stays listed until retired."""
    pasted = _read_secret() if secret_stdin else None
    try:
        app = get_app(slug)
        plain = rotate_secret(app, pasted, actor=ACTOR, shown_in="cli")
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"New secret for {app.slug} issues from now on; the previous one stays until retired.")
    _print_generated(plain, pasted)


@apps.command("list")
def list_command() -> None:
    """One line per app: slug, enabled/disabled, secret set or not, name, login URL template."""
    for app in list_apps():
        state = "enabled" if app.enabled else "disabled"
        secret = "secret" if current_secret(app) else "no-secret"
        click.echo(f"{app.slug}\t{state}\t{secret}\t{app.name}\t{app.login_url_template}")


@apps.command("rewrap-secrets")
def rewrap_command() -> None:
    """Re-encrypt all stored app secrets with the first key of SSO_APP_SECRETS_KEY."""
    try:
        count = rewrap_secrets(actor=ACTOR)
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"Re-encrypted {count} secrets with the first key of SSO_APP_SECRETS_KEY.")
