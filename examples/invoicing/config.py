"""Configuration from ``INVOICING_*`` environment variables, checked at start-up.

Every value is read once, validated, and put into ``app.config`` under the name without
the prefix (``INVOICING_HUB_URL`` -> ``HUB_URL``). A missing or bad value stops the app
with :class:`ConfigError`, whose message names the variable to set.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PREFIX = "INVOICING_"
DEFAULT_SLUG = "invoices"
DEFAULT_MAX_AGE = 900
MIN_SECRET_LENGTH = 16
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class ConfigError(RuntimeError):
    """The configuration is missing or wrong; the message says which variable to fix."""


def load(environ: Mapping[str, str], overrides: Mapping[str, Any], instance_path: str) -> dict[str, Any]:
    """Return the validated settings from ``environ``; keys of ``overrides`` win.

    ``overrides`` uses the names without the prefix (``{"HUB_URL": ...}``), as
    ``create_app(test_config)`` passes them.
    """

    def raw(name: str) -> Any:
        if name in overrides:
            return overrides[name]
        value = environ.get(PREFIX + name, "").strip()
        return value or None

    settings: dict[str, Any] = {}
    settings["MULTIPASS_SECRETS"] = _secrets(raw("MULTIPASS_SECRETS"))
    settings["HUB_URL"] = _hub_url(raw("HUB_URL"))
    slug = raw("HUB_APP_SLUG") or DEFAULT_SLUG
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise ConfigError(f"{PREFIX}HUB_APP_SLUG must be a slug like 'invoices' (a-z, 0-9, '-', '_')")
    settings["HUB_APP_SLUG"] = slug
    audience = raw("MULTIPASS_AUDIENCE") or slug
    if not isinstance(audience, str) or not _SLUG.fullmatch(audience):
        raise ConfigError(f"{PREFIX}MULTIPASS_AUDIENCE must be this app's slug at the hub, like 'invoices'")
    settings["MULTIPASS_AUDIENCE"] = audience
    settings["SCIM_TOKEN"] = _scim_token(raw("SCIM_TOKEN"))
    settings["REDIS_URL"] = _redis_url(raw("REDIS_URL"))
    settings["MULTIPASS_MAX_AGE"] = _max_age(raw("MULTIPASS_MAX_AGE"))
    database_url = raw("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'invoicing.sqlite3'}"
    if not isinstance(database_url, str) or "://" not in database_url:
        raise ConfigError(f"{PREFIX}DATABASE_URL must be a SQLAlchemy URL such as sqlite:///path/invoicing.sqlite3")
    settings["SQLALCHEMY_DATABASE_URI"] = database_url
    settings["SECRET_KEY"] = raw("SECRET_KEY") or _instance_secret_key(instance_path)
    if len(settings["SECRET_KEY"]) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{PREFIX}SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters long")
    return settings


def _secrets(value: Any) -> list[str]:
    name = PREFIX + "MULTIPASS_SECRETS"
    if value is None:
        raise ConfigError(
            f"{name} is not set: put the Multipass secret the hub shows for this app "
            "(several separated by spaces, newest first, while rotating)"
        )
    items = value.split() if isinstance(value, str) else list(value)
    if not items or not all(isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH for s in items):
        raise ConfigError(f"{name} must hold one or more secrets of at least {MIN_SECRET_LENGTH} characters")
    return items


def _hub_url(value: Any) -> str:
    name = PREFIX + "HUB_URL"
    if value is None:
        raise ConfigError(f"{name} is not set: put the hub's address, e.g. http://127.0.0.1:5000")
    parts = urlsplit(str(value))
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an http(s) URL such as https://hub.example.com, not {value!r}")
    return str(value).rstrip("/")


def _scim_token(value: Any) -> str | None:
    if value is None:
        return None  # the SCIM directory then answers 401 to everyone
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH or any(c.isspace() for c in value):
        raise ConfigError(
            f"{PREFIX}SCIM_TOKEN must be at least {MIN_SECRET_LENGTH} characters without spaces"
        )
    return value


def _redis_url(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(f"{PREFIX}REDIS_URL must be a redis:// or rediss:// URL")
    return value


def _max_age(value: Any) -> int:
    if value is None:
        return DEFAULT_MAX_AGE
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        seconds = 0
    if not 1 <= seconds <= DEFAULT_MAX_AGE:
        raise ConfigError(f"{PREFIX}MULTIPASS_MAX_AGE must be a whole number of seconds from 1 to 900")
    return seconds


def _instance_secret_key(instance_path: str) -> str:
    """Read the session key kept in the instance folder, creating it (mode 0600) the first time."""
    path = Path(instance_path) / "invoicing-secret-key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _read_key(path)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48))
        return _read_key(path)
    except OSError as err:
        raise ConfigError(
            f"{PREFIX}SECRET_KEY is not set and {path} cannot be used to keep a generated one: {err}"
        ) from err


def _read_key(path: Path) -> str:
    # Another worker may have created the file a moment ago and not written it yet.
    for _ in range(50):
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
        time.sleep(0.02)
    raise ConfigError(f"{PREFIX}SECRET_KEY is not set and {path} is empty: delete it or set the variable")
