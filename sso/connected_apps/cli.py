"""``flask --app wsgi apps ...``: register connected apps and rotate their secrets."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from ..audit import record
from sso.base.errors import HubError
from .service import (
    create_connected_app,
    current_secret,
    get_app,
    list_apps,
    rewrap_secrets,
    rotate_secret,
    set_secret,
)

apps = AppGroup("apps", help="Manage connected apps.")


def _read_secret() -> str:
    return sys.stdin.readline().rstrip("\r\n")


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
    from .secrets import check_pasted_secret

    try:
        pasted = check_pasted_secret(_read_secret()) if secret_stdin else None
        app = create_connected_app(slug, name, login_url, list(origins), token_lifetime=lifetime,
                                   logout_url=logout_url)
        plain = set_secret(app, pasted)
    except HubError as err:
        raise click.ClickException(err.message) from err
    record("app_created", app=app, actor="cli", detail={"name": app.name, "login_url": app.login_url_template})
    click.echo(f"Registered app {app.slug} ({app.name}); allowed origins: {', '.join(app.allowed_origins)}")
    _report_secret("secret_set", app, plain, pasted)


@apps.command("rotate-secret")
@click.argument("slug")
@click.option("--secret-stdin", is_flag=True, help="Read the new secret from standard input.")
def rotate_command(slug: str, secret_stdin: bool) -> None:
    """Issue from a new secret; the previous one stays listed until retired."""
    try:
        app = get_app(slug)
        pasted = _read_secret() if secret_stdin else None
        plain = rotate_secret(app, pasted)
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"New secret for {app.slug} issues from now on; the previous one stays until retired.")
    _report_secret("secret_rotated", app, plain, pasted)


def _report_secret(event: str, app, plain: str, pasted: str | None) -> None:  # type: ignore[no-untyped-def]
    """Audit a new secret; a generated one is printed here, once, and its reveal audited too."""
    record(event, app=app, actor="cli", detail={"source": "pasted" if pasted else "generated"})
    if pasted is None:
        record("secret_revealed", app=app, actor="cli", detail={"where": "cli"})
        click.echo("Multipass secret (shown once, store it in the app now):")
        click.echo(plain)


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
        count = rewrap_secrets()
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"Re-encrypted {count} secrets with the first key of SSO_APP_SECRETS_KEY.")
