"""``flask --app wsgi groups ...``: groups (departments), their members, and app access.

Thin: each command parses its arguments, calls one use case and turns a
:class:`~sso.base.errors.HubError` into a message and a non-zero exit (:mod:`sso.base.cli`).
"""

from __future__ import annotations

import click

from sso.base.cli import HubGroup
from sso.connected_apps.service import get_app

from .access import access_policy, set_app_access
from .service import add_member, create_group, delete_group, get_group, list_groups, remove_member, rename_group

groups = HubGroup("groups", help="Manage groups (departments) and which groups may open an app.")

ACTOR = "cli"


@groups.command("list")
def list_command() -> None:
    """List the groups and their member counts."""
    rows = list_groups()
    if not rows:
        click.echo("No groups yet.")
    for row in rows:
        click.echo(f"{row.name}\t{row.members} member{'s' if row.members != 1 else ''}")


@groups.command("create")
@click.argument("name")
def create_command(name: str) -> None:
    """Create the group NAME."""
    group = create_group(name, actor=ACTOR)
    click.echo(f"Created group {group.name}.")


@groups.command("rename")
@click.argument("name")
@click.argument("new_name")
def rename_command(name: str, new_name: str) -> None:
    """Rename the group NAME to NEW_NAME."""
    group = get_group(name)
    changed = rename_group(group, new_name, actor=ACTOR)
    click.echo(f"Renamed to {group.name}." if changed else "Unchanged.")


@groups.command("delete")
@click.argument("name")
def delete_command(name: str) -> None:
    """Delete the group NAME (its members stay users)."""
    count = delete_group(get_group(name), actor=ACTOR)
    click.echo(f"Deleted group {name.strip()} ({count} members).")


@groups.command("add-member")
@click.argument("name")
@click.argument("login")
def add_member_command(name: str, login: str) -> None:
    """Put the user LOGIN (login or e-mail) in the group NAME."""
    group = get_group(name)
    added = add_member(group, login, actor=ACTOR)
    click.echo(f"Added {login.strip()} to {group.name}." if added else f"{login.strip()} already is in {group.name}.")


@groups.command("remove-member")
@click.argument("name")
@click.argument("login")
def remove_member_command(name: str, login: str) -> None:
    """Take the user LOGIN out of the group NAME."""
    group = get_group(name)
    removed = remove_member(group, login, actor=ACTOR)
    click.echo(f"Removed {login.strip()} from {group.name}." if removed else f"{login.strip()} is not in {group.name}.")


@groups.command("app-access")
@click.argument("slug")
@click.option("--group", "names", multiple=True, help="Allow this group (repeatable); replaces the list.")
@click.option("--everyone", is_flag=True, help="Open the app to every user.")
def app_access_command(slug: str, names: tuple[str, ...], everyone: bool) -> None:
    """Show or set who may open the app SLUG: --everyone, or --group NAME (repeatable)."""
    if everyone and names:
        raise click.UsageError("Give either --everyone or --group, not both.")
    app = get_app(slug)
    if everyone or names:
        set_app_access(app, None if everyone else list(names), actor=ACTOR)
    policy = access_policy(app)
    who = "everyone" if policy.groups is None else ", ".join(policy.groups) or "nobody (no group allowed)"
    click.echo(f"{app.name} is open to: {who}")
