"""``flask --app wsgi oidc ...`` and the OIDC half of ``apps add --protocol oidc``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from sso.base.cli import HubGroup

from . import keys, service

oidc = HubGroup("oidc", help="OpenID Connect provider: signing keys.")


def add_from_cli(slug: str, name: str, options: Mapping[str, Any], actor: str) -> tuple[Any, str | None]:
    """``apps add SLUG --protocol oidc ...``: register the client; returns the app and the plain secret."""
    return service.add_client(
        slug, name, options.get("redirect_uris") or (),
        post_logout_redirect_uris=options.get("post_logout_redirect_uris") or (),
        backchannel_logout_uri=options.get("backchannel_logout_uri"),
        initiate_login_uri=options.get("initiate_login_uri"),
        public=bool(options.get("public")), secret=options.get("secret"),
        first_party=not options.get("third_party"), refresh_tokens=bool(options.get("refresh_tokens")),
        id_token_alg=options.get("id_token_alg") or "RS256", actor=actor, shown_in="cli",
    )


@oidc.command("rotate-key")
@click.option("--alg", "algorithms", multiple=True, type=click.Choice(keys.ALGORITHMS),
              help="Only this algorithm (repeatable); default: all.")
@click.option("--publish-ahead", default=keys.DEFAULT_PUBLISH_AHEAD, show_default=True, type=click.IntRange(0),
              help="Seconds the new key is published before it signs (relying parties cache the JWKS).")
def rotate_key_command(algorithms: tuple[str, ...], publish_ahead: int) -> None:
    """Add a new signing key: published now, signing after --publish-ahead seconds; the old
    one stays published until the ID tokens it signed have expired."""
    rows = keys.rotate(algorithms or keys.ALGORITHMS, publish_ahead=publish_ahead, actor="cli")
    for row in rows:
        click.echo(f"New {row.alg} key {row.kid}: published now, signs from {row.signs_from.isoformat()}")


@oidc.command("keys")
def keys_command() -> None:
    """List the published keys: kid, algorithm, signing from."""
    for row in keys.published_rows():
        click.echo(f"{row.kid}\t{row.alg}\t{row.signs_from.isoformat()}")


@oidc.command("rewrap-keys")
def rewrap_keys_command() -> None:
    """Re-encrypt the signing keys with the first key of SSO_APP_SECRETS_KEY."""
    count = keys.rewrap(actor="cli")
    click.echo(f"Re-encrypted {count} signing keys with the first key of SSO_APP_SECRETS_KEY.")
