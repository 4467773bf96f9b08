"""What plugins add to the connected-apps admin pages (e.g. "Pairing").

The hub does not know its plugins; a plugin's ``init_app`` calls :func:`add_app_link`
(the apps page shows one more column, linking ``url_for(endpoint, slug=...)``),
:func:`add_app_column` (a column of text) or :func:`add_integration_item` (a line of an
app's integration panel, e.g. the app's SCIM URL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from sso.base import context

from .models import ConnectedApp

__all__ = [
    "AppColumn",
    "AppLink",
    "IntegrationItem",
    "add_app_column",
    "add_app_link",
    "add_integration_item",
    "app_columns",
    "app_links",
    "integration_items",
]

_KEY = "connected_apps.links"  # in the hub state's features
_COLUMNS = "connected_apps.columns"
_ITEMS = "connected_apps.integration_items"


@dataclass(frozen=True)
class AppLink:
    """A column on the apps page: ``label`` links to ``endpoint`` with ``slug=<the app's slug>``."""

    label: str
    endpoint: str


def add_app_link(app: Flask, label: str, endpoint: str) -> None:
    """Show ``label`` per connected app on the admin page, linking ``endpoint``."""
    links: list[AppLink] = context.hub_state(app).features.setdefault(_KEY, [])
    if any(link.endpoint == endpoint for link in links):
        raise ValueError(f"an app link to {endpoint!r} is already registered")
    links.append(AppLink(label, endpoint))


def app_links() -> list[AppLink]:
    """The links registered on the current app, in registration order."""
    links: list[AppLink] = context.hub_state().features.get(_KEY, [])
    return links


@dataclass(frozen=True)
class AppColumn:
    """A column of text on the apps page: ``value(app)`` is shown (escaped) for each app."""

    label: str
    value: Callable[[ConnectedApp], str]


def add_app_column(app: Flask, label: str, value: Callable[[ConnectedApp], str]) -> None:
    """Show ``label`` with ``value(connected_app)`` per connected app on the admin page."""
    columns: list[AppColumn] = context.hub_state(app).features.setdefault(_COLUMNS, [])
    if any(column.label == label for column in columns):
        raise ValueError(f"an app column {label!r} is already registered")
    columns.append(AppColumn(label, value))


def app_columns() -> list[AppColumn]:
    """The columns registered on the current app, in registration order."""
    columns: list[AppColumn] = context.hub_state().features.get(_COLUMNS, [])
    return columns


@dataclass(frozen=True)
class IntegrationItem:
    """A line of an app's integration panel: ``value(app)`` with a copy button, or the words
    ``missing`` when it is None; ``endpoint`` (with ``slug=``) is the page ``where`` names,
    on which an admin sets it."""

    label: str
    value: Callable[[ConnectedApp], str | None]
    missing: str
    endpoint: str
    where: str


def add_integration_item(
    app: Flask, label: str, value: Callable[[ConnectedApp], str | None], *, missing: str, endpoint: str, where: str
) -> None:
    """Show ``label`` with ``value(connected_app)`` in every app's integration panel."""
    items: list[IntegrationItem] = context.hub_state(app).features.setdefault(_ITEMS, [])
    if any(item.label == label for item in items):
        raise ValueError(f"an integration item {label!r} is already registered")
    items.append(IntegrationItem(label, value, missing, endpoint, where))


def integration_items() -> list[IntegrationItem]:
    """The integration items registered on the current app, in registration order."""
    items: list[IntegrationItem] = context.hub_state().features.get(_ITEMS, [])
    return items
