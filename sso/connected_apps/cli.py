"""``flask --app wsgi apps ...``: register connected apps and rotate their secrets.

Thin: each command parses its arguments, calls one use case of :mod:`.service` and turns
a :class:`~sso.base.errors.HubError` into a message and a non-zero exit (:mod:`sso.base.cli`).
"""

from __future__ import annotations

import sys

import click

from sso.base.cli import HubGroup

from .models import ACTIVE, PROTOCOLS
from .protocols import protocol_adder
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

apps = HubGroup("apps", help="Manage connected apps.")

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
@click.option("--login-url-allowed", "login_urls", multiple=True,
              help="Multipass: a login URL the service-initiated flow may send tokens to (repeatable; exact match).")
@click.option("--secret-stdin", is_flag=True, help="Read the secret from standard input.")
def add_command(slug: str, name: str, protocol: str, login_url: str | None, origins: tuple[str, ...],
                lifetime: int, logout_url: str | None, login_urls: tuple[str, ...], secret_stdin: bool,
                **oidc_options: object) -> None:
    """Register a connected app; prints a generated secret once."""
    pasted = _read_secret() if secret_stdin else None
    if protocol != "multipass":
        _add_other(slug, name, protocol, pasted, oidc_options)
        return
    if not login_url:
        raise click.UsageError("Missing option '--login-url' (required for a Multipass app).")
    app, plain = add_app(slug, name, login_url, list(origins), secret=pasted, token_lifetime=lifetime,
                         logout_url=logout_url, login_urls=list(login_urls), actor=ACTOR, shown_in="cli")
    click.echo(f"Registered app {app.slug} ({app.name}); allowed origins: {', '.join(app.allowed_origins)}")
    click.echo(f"Login URLs for the service-initiated flow: {', '.join(app.login_urls) or 'none'}")
    _print_generated(plain, pasted)


@apps.command("set-login-urls")
@click.argument("slug")
@click.argument("urls", nargs=-1)
def set_login_urls_command(slug: str, urls: tuple[str, ...]) -> None:
    """Replace the app's registered login URLs (none given: the service-initiated flow is off)."""
    app = get_app(slug)
    update_connected_app(app, login_urls=list(urls), actor=ACTOR)
    click.echo(f"Login URLs of {app.slug}: {', '.join(app.login_urls) or 'none (service-initiated flow off)'}")


def _add_other(slug: str, name: str, protocol: str, pasted: str | None, options: dict[str, object]) -> None:
    adder = protocol_adder(protocol)
    if adder is None:
        raise click.ClickException(f"The {protocol} protocol is not available in this hub.")
    app, plain = adder(slug, name, {**options, "secret": pasted}, ACTOR)
    click.echo(f"Registered {protocol} app {app.slug} ({app.name}); client id: {app.slug}")
    if plain is None:
        click.echo("Public client: no secret (the app must use PKCE).")
    elif pasted is None:
        click.echo("Client secret (shown once, store it in the app now):")
        click.echo(plain)


@apps.command("rotate-secret")
@click.argument("slug")
@click.option("--secret-stdin", is_flag=True, help="Read the new secret from standard input.")
@click.option("--replace", is_flag=True, help="Replace a secret that is already staged.")
def rotate_command(slug: str, secret_stdin: bool, replace: bool) -> None:
    """Stage a next secret; the hub keeps issuing with the active one until activate-secret."""
    pasted = _read_secret() if secret_stdin else None
    app = get_app(slug)
    row, plain = stage_secret(app, pasted, actor=ACTOR, shown_in="cli", replace=replace)
    new_fp = secret_fingerprint(row)
    active = active_secret(app)
    active_fp = secret_fingerprint(active) if active is not None else ""
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
    app = get_app(slug)
    row = activate_secret(app, actor=ACTOR)
    new_fp = secret_fingerprint(row)
    previous = previous_secret(app)
    old_fp = secret_fingerprint(previous) if previous is not None else None
    click.echo(f"{app.slug}: the hub issues with {new_fp} from now on.")
    if old_fp:
        click.echo(f"The app may drop the previous secret ({old_fp}) once tokens issued with it have expired "
                   f"({app.token_lifetime} s); then run: flask --app wsgi apps retire-secret {app.slug}")


@apps.command("retire-secret")
@click.argument("slug")
def retire_command(slug: str) -> None:
    """Drop the previous secret (after the app stopped accepting it)."""
    app = get_app(slug)
    row = retire_secret(app, actor=ACTOR)
    fp = secret_fingerprint(row)
    click.echo(f"{app.slug}: the previous secret ({fp}) is retired. Remove it from the app's settings too.")


@apps.command("discard-secret")
@click.argument("slug")
def discard_command(slug: str) -> None:
    """Drop the staged (next) secret without activating it."""
    app = get_app(slug)
    row = discard_staged_secret(app, actor=ACTOR)
    fp = secret_fingerprint(row)
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
    count = rewrap_secrets(actor=ACTOR)
    click.echo(f"Re-encrypted {count} secrets with the first key of SSO_APP_SECRETS_KEY.")
