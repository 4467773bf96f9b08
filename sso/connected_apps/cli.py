"""``flask --app wsgi apps ...``: register connected apps and rotate their secrets.

Thin: each command parses its arguments, calls one use case of :mod:`.service` and turns
a :class:`~sso.base.errors.HubError` into a message and a non-zero exit.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from sso.base.errors import HubError

from .models import ACTIVE
from .service import (
    activate_secret,
    active_secret,
    add_app,
    discard_staged_secret,
    get_app,
    list_apps,
    previous_secret,
    retire_secret,
    rewrap_secrets,
    secret_fingerprint,
    stage_secret,
    update_connected_app,
)

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
@click.option("--login-url-allowed", "login_urls", multiple=True,
              help="A login URL the service-initiated flow may send tokens to (repeatable; exact match).")
@click.option("--secret-stdin", is_flag=True, help="Read the secret from standard input.")
def add_command(slug: str, name: str, login_url: str, origins: tuple[str, ...], lifetime: int,
                logout_url: str | None, login_urls: tuple[str, ...], secret_stdin: bool) -> None:
    """Register a connected app; prints a generated secret once."""
    pasted = _read_secret() if secret_stdin else None
    try:
        app, plain = add_app(slug, name, login_url, list(origins), secret=pasted, token_lifetime=lifetime,
                             logout_url=logout_url, login_urls=list(login_urls), actor=ACTOR, shown_in="cli")
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"Registered app {app.slug} ({app.name}); allowed origins: {', '.join(app.allowed_origins)}")
    click.echo(f"Login URLs for the service-initiated flow: {', '.join(app.login_urls) or 'none'}")
    _print_generated(plain, pasted)


@apps.command("set-login-urls")
@click.argument("slug")
@click.argument("urls", nargs=-1)
def set_login_urls_command(slug: str, urls: tuple[str, ...]) -> None:
    """Replace the app's registered login URLs (none given: the service-initiated flow is off)."""
    try:
        app = get_app(slug)
        update_connected_app(app, login_urls=list(urls), actor=ACTOR)
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"Login URLs of {app.slug}: {', '.join(app.login_urls) or 'none (service-initiated flow off)'}")


@apps.command("rotate-secret")
@click.argument("slug")
@click.option("--secret-stdin", is_flag=True, help="Read the new secret from standard input.")
@click.option("--replace", is_flag=True, help="Replace a secret that is already staged.")
def rotate_command(slug: str, secret_stdin: bool, replace: bool) -> None:
    """Stage a next secret; the hub keeps issuing with the active one until activate-secret."""
    pasted = _read_secret() if secret_stdin else None
    try:
        app = get_app(slug)
        row, plain = stage_secret(app, pasted, actor=ACTOR, shown_in="cli", replace=replace)
        new_fp = secret_fingerprint(row)
        active = active_secret(app)
        active_fp = secret_fingerprint(active) if active is not None else ""
    except HubError as err:
        raise click.ClickException(err.message) from err
    if row.state == ACTIVE:
        click.echo(f"{app.slug} had no active secret: this one ({new_fp}) issues from now on.")
    else:
        click.echo(f"Staged a next secret for {app.slug} (fingerprint {new_fp}). "
                   f"The hub still issues with the active secret ({active_fp}).")
        click.echo(f"Now configure {app.slug} to accept both secrets, newest first: {new_fp}, {active_fp}.")
        click.echo(f"Then run: flask --app wsgi apps activate-secret {app.slug}")
        click.echo("Activating before the app accepts the new secret makes every sign-in into it fail.")
    _print_generated(plain, pasted)


@apps.command("activate-secret")
@click.argument("slug")
def activate_command(slug: str) -> None:
    """Issue with the staged secret from now on; the active one becomes previous."""
    try:
        app = get_app(slug)
        row = activate_secret(app, actor=ACTOR)
        new_fp = secret_fingerprint(row)
        previous = previous_secret(app)
        old_fp = secret_fingerprint(previous) if previous is not None else None
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"{app.slug}: the hub issues with {new_fp} from now on.")
    if old_fp:
        click.echo(f"The app may drop the previous secret ({old_fp}) once tokens issued with it have expired "
                   f"({app.token_lifetime} s); then run: flask --app wsgi apps retire-secret {app.slug}")


@apps.command("retire-secret")
@click.argument("slug")
def retire_command(slug: str) -> None:
    """Drop the previous secret (after the app stopped accepting it)."""
    try:
        app = get_app(slug)
        row = retire_secret(app, actor=ACTOR)
        fp = secret_fingerprint(row)
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"{app.slug}: the previous secret ({fp}) is retired. Remove it from the app's settings too.")


@apps.command("discard-secret")
@click.argument("slug")
def discard_command(slug: str) -> None:
    """Drop the staged (next) secret without activating it."""
    try:
        app = get_app(slug)
        row = discard_staged_secret(app, actor=ACTOR)
        fp = secret_fingerprint(row)
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"{app.slug}: the staged secret ({fp}) is discarded; remove it from the app if you added it there.")


@apps.command("list")
def list_command() -> None:
    """One line per app: slug, enabled/disabled, secret set or not, name, login URL template."""
    for app in list_apps():
        state = "enabled" if app.enabled else "disabled"
        secret = "secret" if active_secret(app) else "no-secret"
        click.echo(f"{app.slug}\t{state}\t{secret}\t{app.name}\t{app.login_url_template}")


@apps.command("rewrap-secrets")
def rewrap_command() -> None:
    """Re-encrypt all stored app secrets with the first key of SSO_APP_SECRETS_KEY."""
    try:
        count = rewrap_secrets(actor=ACTOR)
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"Re-encrypted {count} secrets with the first key of SSO_APP_SECRETS_KEY.")
