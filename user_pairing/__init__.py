"""Which users can move between the hub and an app: matching rules and directory sources.

>>> rows = match_users(hub_users, app_users, app_name="the invoicing app")
>>> counts(rows)[Status.PAIRED]

The modules here are pure Python (no Flask, no database); the admin pages build on them.
"""

from .errors import SOURCE_ERROR_KINDS, ConfigError, FixError, PairingError, SourceError
from .matching import DirectoryUser, PairingRow, Status, counts, match_users, normalise
from .sources import (
    SOURCE_KINDS,
    CsvSource,
    DirectoryConfig,
    DirectorySource,
    JsonListSource,
    ScimSource,
    build_source,
    safe_url,
)

__all__ = [
    "SOURCE_ERROR_KINDS",
    "SOURCE_KINDS",
    "ConfigError",
    "CsvSource",
    "DirectoryConfig",
    "DirectorySource",
    "DirectoryUser",
    "FixError",
    "JsonListSource",
    "PairingError",
    "PairingRow",
    "ScimSource",
    "SourceError",
    "Status",
    "build_source",
    "counts",
    "match_users",
    "normalise",
    "safe_url",
]
