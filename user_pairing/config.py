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
    Setting(
        "PAIRING_SNAPSHOT_MAX_AGE", "SSO_PAIRING_SNAPSHOT_MAX_AGE", "seconds, 60-604800", 3600,
        whole_number(60, 604800),
        "pairing plugin: a pairing page whose snapshot is older than this (or missing) refreshes it in the background",
    ),
    Setting(
        "PROVISIONING_POLL", "SSO_PAIRING_PROVISIONING_POLL", "seconds, 0.05-30", 1.0, number(0.05, 30),
        "provisioning worker: how long it waits between passes when the outbox is empty",
    ),
    Setting(
        "PROVISIONING_BATCH", "SSO_PAIRING_PROVISIONING_BATCH", "int, 1-5000", 200, whole_number(1, 5000),
        "provisioning worker: outbox rows leased per pass",
    ),
    Setting(
        "PROVISIONING_LEASE", "SSO_PAIRING_PROVISIONING_LEASE", "seconds, 5-600", 30.0, number(5, 600),
        "provisioning worker: how long a leased row stays reserved; rows of a killed worker are taken up after it",
    ),
    Setting(
        "PROVISIONING_RETRIES", "SSO_PAIRING_PROVISIONING_RETRIES", "int, 0-10", 2, whole_number(0, 10),
        "provisioning worker: immediate retries of one SCIM call on a connection error, timeout, 5xx or 429",
    ),
    Setting(
        "PROVISIONING_BACKOFF_BASE", "SSO_PAIRING_PROVISIONING_BACKOFF_BASE", "seconds, 0.1-3600", 2.0,
        number(0.1, 3600),
        "provisioning worker: wait before the 2nd delivery attempt of a row; doubles with each failure",
    ),
    Setting(
        "PROVISIONING_BACKOFF_MAX", "SSO_PAIRING_PROVISIONING_BACKOFF_MAX", "seconds, 1-86400", 300.0, number(1, 86400),
        "provisioning worker: longest wait between two delivery attempts of a row",
    ),
)


def init_app(app: Flask) -> None:
    """Load the plugin's settings into ``app.config``; raises ConfigError naming the variable."""
    load_settings(app, SETTINGS)
