"""The pairing plugin's settings, declared like the hub's (:class:`sso.config.Setting`).

:func:`init_app` loads them into the hub's ``app.config`` from their ``SSO_PAIRING_*``
variables; a value given in the app factory's ``test_config`` wins. The README's
Configuration table lists them with the hub's.
"""

from __future__ import annotations

from flask import Flask

from sso.config import Setting, load_settings, number, whole_number

from .sources import DEFAULT_TIMEOUT

DEFAULT_PER_PAGE = 50

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "PAIRING_PER_PAGE", "SSO_PAIRING_PER_PAGE", "int, 1-500", DEFAULT_PER_PAGE, whole_number(1, 500),
        "pairing plugin: rows per page of a connected app's pairing report",
    ),
    Setting(
        "PAIRING_SOURCE_TIMEOUT", "SSO_PAIRING_SOURCE_TIMEOUT", "seconds, 0.1-300", DEFAULT_TIMEOUT,
        number(0.1, 300), "pairing plugin: how long a SCIM or JSON directory may take to answer each request",
    ),
)


def init_app(app: Flask) -> None:
    """Load the plugin's settings into ``app.config``; raises ConfigError naming the variable."""
    load_settings(app, SETTINGS)
