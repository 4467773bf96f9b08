"""The pairing plugin's settings, declared like the hub's (:class:`sso.config.Setting`).

:func:`init_app` loads them into the hub's ``app.config`` from their ``SSO_PAIRING_*``
variables; a value given in the app factory's ``test_config`` wins. The README's
Configuration table lists them with the hub's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from sso.config import Parser, Setting, load_settings, number, whole_number

from .sources import DEFAULT_TIMEOUT

DEFAULT_PER_PAGE = 50


def _ranged(
    key: str, unit: str, parse: Callable[[Any, Any], Parser], low: float, high: float, default: float, help: str
) -> Setting:
    """A setting of the plugin whose value lies from ``low`` to ``high`` (``parse`` is
    :func:`whole_number` or :func:`number`). Its variable is ``SSO_PAIRING_`` and the key
    (without a second ``PAIRING_``); its help starts with who reads it."""
    reader = "provisioning worker" if key.startswith("PROVISIONING_") else "pairing plugin"
    return Setting(
        key, f"SSO_PAIRING_{key.removeprefix('PAIRING_')}", f"{unit}, {low}-{high}", default, parse(low, high),
        f"{reader}: {help}",
    )


SETTINGS: tuple[Setting, ...] = (
    _ranged("PAIRING_PER_PAGE", "int", whole_number, 1, 500, DEFAULT_PER_PAGE,
            "rows per page of a connected app's pairing report"),
    _ranged("PAIRING_SOURCE_TIMEOUT", "seconds", number, 0.1, 300, DEFAULT_TIMEOUT,
            "how long a SCIM or JSON directory may take to answer each request"),
    _ranged("PAIRING_SNAPSHOT_MAX_AGE", "seconds", whole_number, 60, 604800, 3600,
            "a pairing page whose snapshot is older than this (or missing) refreshes it in the background"),
    _ranged("PROVISIONING_POLL", "seconds", number, 0.05, 30, 1.0,
            "how long it waits between passes when the outbox is empty"),
    _ranged("PROVISIONING_BATCH", "int", whole_number, 1, 5000, 200, "outbox rows leased per pass"),
    _ranged("PROVISIONING_LEASE", "seconds", number, 5, 600, 30.0,
            "how long a leased row stays reserved; rows of a killed worker are taken up after it"),
    _ranged("PROVISIONING_RETRIES", "int", whole_number, 0, 10, 2,
            "immediate retries of one SCIM call on a connection error, timeout, 5xx or 429"),
    _ranged("PROVISIONING_BACKOFF_BASE", "seconds", number, 0.1, 3600, 2.0,
            "wait before the 2nd delivery attempt of a row; doubles with each failure"),
    _ranged("PROVISIONING_BACKOFF_MAX", "seconds", number, 1, 86400, 300.0,
            "longest wait between two delivery attempts of a row"),
)


def init_app(app: Flask) -> None:
    """Load the plugin's settings into ``app.config``; raises ConfigError naming the variable."""
    load_settings(app, SETTINGS)
