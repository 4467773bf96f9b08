"""``flask --app wsgi apps ...``: register connected apps and rotate their secrets.

Thin: each command parses its arguments, calls one use case of :mod:`.service` and turns
a :class:`~sso.base.errors.HubError` into a message and a non-zero exit.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from sso.base.errors import HubError

from .models import PROTOCOLS
from .protocols import protocol_adder
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
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="multipass", show_default=True,
              help="How the app signs users in.")
@click.option("--login-url", "login_url", default=None, help="Multipass: template with {token} (required).")
@click.option("--origin", "origins", multiple=True, help="Multipass: allowed origin (repeatable).")
@click.option("--lifetime", default=900, show_default=True, help="Multipass: token lifetime in seconds.")
@click.option("--logout-url", default=None, help="Multipass: front-channel logout URL.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="OIDC: redirect URI, exact (repeatable).")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
              help="OIDC: where the app may send users after logout (repeatable).")
@click.option("--backchannel-logout-uri", default=None, help="OIDC: back-channel logout URI.")
@click.option("--initiate-login-uri", default=None, help="OIDC: where the menu button starts the app's login.")
@click.option("--public", is_flag=True, help="OIDC: a public client (no secret; PKCE).")
@click.option("--third-party", is_flag=True, help="OIDC: ask users for consent (first-party apps skip it).")
@click.option("--refresh-tokens", is_flag=True, help="OIDC: issue refresh tokens (rotated on use).")
@click.option("--id-token-alg", type=click.Choice(["RS256", "ES256"]), default="RS256", show_default=True,
              help="OIDC: ID-token signing algorithm.")
@click.option("--secret-stdin", is_flag=True, help="Read the secret from standard input.")
def add_command(slug: str, name: str, protocol: str, login_url: str | None, origins: tuple[str, ...],
                lifetime: int, logout_url: str | None, secret_stdin: bool, **oidc_options: object) -> None:
    """Register a connected app; prints a generated secret once."""
    pasted = _read_secret() if secret_stdin else None
    if protocol != "multipass":
        _add_other(slug, name, protocol, pasted, oidc_options)
        return
    if not login_url:
        raise click.UsageError("Missing option '--login-url' (required for a Multipass app).")
    try:
        app, plain = add_app(slug, name, login_url, list(origins), secret=pasted, token_lifetime=lifetime,
                             logout_url=logout_url, actor=ACTOR, shown_in="cli")
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"Registered app {app.slug} ({app.name}); allowed origins: {', '.join(app.allowed_origins)}")
    _print_generated(plain, pasted)


def _add_other(slug: str, name: str, protocol: str, pasted: str | None, options: dict[str, object]) -> None:
    adder = protocol_adder(protocol)
    if adder is None:
        raise click.ClickException(f"The {protocol} protocol is not available in this hub.")
    try:
        app, plain = adder(slug, name, {**options, "secret": pasted}, ACTOR)
    except HubError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"Registered {protocol} app {app.slug} ({app.name}); client id: {app.slug}")
    if plain is None:
        click.echo("Public client: no secret (the app must use PKCE).")
    elif pasted is None:
        click.echo("Client secret (shown once, store it in the app now):")
        click.echo(plain)


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
