"""Per-app links that plugins add to the connected-apps admin page (e.g. "Pairing").

The hub does not know its plugins; a plugin's ``init_app`` calls :func:`add_app_link`
and the apps page shows one more column, linking ``url_for(endpoint, slug=...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from sso.base import context

from .models import ConnectedApp

__all__ = ["AppColumn", "AppLink", "add_app_column", "add_app_link", "app_columns", "app_links"]

_KEY = "connected_apps.links"  # in the hub state's features
_COLUMNS = "connected_apps.columns"


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
