"""The pairing plugin for the hub: ``create_app(plugins=[user_pairing.hub])``.

Adds the models, the admin pages (a "Pairing" link per connected app), the ``pairing``
commands and ``apps set-directory``. The hub never imports this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from sso.connected_apps.models import ConnectedApp


def init_app(app: Flask) -> None:
    """Register the pairing blueprint and commands on the hub ``app``.

    Adds ``pairing ...`` and ``apps set-directory``. The models are imported here so that
    ``create_all`` and the migrations see their tables.
    """
    from sso.connected_apps.cli import apps
    from sso.connected_apps.links import add_app_column, add_app_link, add_integration_item

    from . import models as _models  # noqa: F401
    from . import provisioning
    from . import service as _service  # noqa: F401  (registers the audit event names)
    from .cli import pairing, provisioning_cli, set_directory_command
    from .config import init_app as load_pairing_settings
    from .views import bp

    load_pairing_settings(app)
    provisioning.init_app(app)
    app.register_blueprint(bp)
    app.cli.add_command(pairing)
    app.cli.add_command(provisioning_cli)
    apps.add_command(set_directory_command, "set-directory")
    add_app_link(app, "Pairing", "pairing.page")
    add_app_column(app, "Pairing", pairing_summary)
    add_integration_item(
        app,
        "The app's user directory (its SCIM URL): the hub reads users from it and sends it changes",
        directory_url,
        missing="Not set: the hub cannot compare this app's users with its own, nor send it changes.",
        endpoint="pairing.page",
        where="the Pairing page",
    )


def pairing_summary(connected_app: ConnectedApp) -> str:
    """The apps list's pairing column: rows per status of the last stored report."""
    from .matching import Status
    from .service import stored_counts

    tally = stored_counts(connected_app)
    if tally is None:
        return "no snapshot yet"
    shown = [f"{tally.get(s.value, 0)} {s.value.replace('_', ' ')}" for s in Status if tally.get(s.value)]
    return ", ".join(shown) or "no users"


def directory_url(connected_app: ConnectedApp) -> str | None:
    """The integration panel's directory line: the URL the hub reads the app's users from."""
    from .service import get_directory

    setting = get_directory(connected_app)
    return setting.url if setting is not None and setting.url else None
