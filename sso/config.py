"""Configuration from ``SSO_*`` environment variables, checked at start-up.

===========================  ==========================================================
``SSO_DATABASE_URL``         SQLAlchemy URL; default: SQLite file ``instance/sso.sqlite3``
``SSO_SECRET_KEY``           Flask session key; generated into ``instance/secret_key`` if absent
``SSO_APP_SECRETS_KEY``      Fernet key(s), comma-separated, the first encrypts; generated
                             into ``instance/app_secrets_key`` if absent
``SSO_REDIS_URL``            optional: rate-limit storage shared by several hub instances
``SSO_BASE_URL``             optional: public URL of the hub (``https://...`` turns on Secure cookies)
``SSO_COOKIE_SECURE``        optional: ``true``/``false``, overrides the guess from the base URL
``SSO_LOGIN_LIMIT_IP``       optional: login attempts per client IP, default ``20 per minute``
``SSO_LOGIN_LIMIT_LOGIN``    optional: login attempts per submitted login, default ``5 per minute``
``SSO_INSTANCE_PATH``        optional: where generated keys and the default database live
``SSO_PROXY_COUNT``          optional: number of trusted reverse proxies in front of the hub
                             (their X-Forwarded-For/-Proto/-Host are believed); default 0
``SSO_AUDIT_BUFFERED``       optional: audit events written in batches off the request path
                             (comma list, default ``jump``; ``none``: all synchronous)
===========================  ==========================================================

A bad value raises :class:`~sso.base.errors.ConfigError` naming the variable.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .base.errors import ConfigError

log = logging.getLogger(__name__)

PREFIX = "SSO_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _generated(instance_path: Path, name: str, make: Any, variable: str) -> str:
    """Read ``instance/<name>``, creating it with ``make()`` on first start.

    Written to a private temporary file and linked into place, so several processes
    starting at once (gunicorn workers) all end up with the same value.
    """
    path = instance_path / name
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    instance_path.mkdir(parents=True, exist_ok=True)
    value = make()
    tmp = instance_path / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()  # another process won the race
    finally:
        tmp.unlink()
    log.warning("%s is not set: generated a new one into %s (keep this file private)", variable, path)
    return value


def _bool(environ: Mapping[str, str], name: str) -> bool | None:
    raw = environ.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{PREFIX}{name} must be true or false, not {raw!r}")


def parse_fernet_keys(raw: str, variable: str = PREFIX + "APP_SECRETS_KEY") -> list[str]:
    """Split and check a comma-separated list of Fernet keys. The first one encrypts."""
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    if not keys:
        raise ConfigError(f"{variable} is empty: give one or more Fernet keys, comma-separated")
    for index, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as err:
            raise ConfigError(
                f"{variable}: key number {index} is not a Fernet key (32 url-safe base64 bytes)"
            ) from err
    return keys


def check_database_url(value: str, variable: str = PREFIX + "DATABASE_URL") -> str:
    """Return ``value`` if SQLAlchemy can read it as a database URL."""
    try:
        url = make_url(value)
    except (ArgumentError, ValueError) as err:
        raise ConfigError(f"{variable} is not a database URL: {err}") from err
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(f"{variable} must be a sqlite:// or postgresql+psycopg:// URL")
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    return value


def _url(value: str, variable: str, schemes: set[str]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(f"{variable} must be a URL starting with {' or '.join(sorted(schemes))}")
    return value


def load_config(instance_path: str | os.PathLike[str], environ: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask configuration from ``environ`` (default ``os.environ``).

    Keys present in ``overrides`` (the app factory's ``test_config``) win, and for those
    nothing is generated or read from the environment.
    """
    env = dict(os.environ if environ is None else environ)
    given = dict(overrides or {})
    instance = Path(instance_path)
    cfg: dict[str, Any] = {}

    if "SQLALCHEMY_DATABASE_URI" not in given:
        raw = env.get(PREFIX + "DATABASE_URL", "").strip()
        if raw:
            cfg["SQLALCHEMY_DATABASE_URI"] = check_database_url(raw)
        else:
            instance.mkdir(parents=True, exist_ok=True)
            cfg["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'sso.sqlite3'}"

    if "SECRET_KEY" not in given:
        raw = env.get(PREFIX + "SECRET_KEY", "").strip()
        if raw and len(raw) < 24:
            raise ConfigError(f"{PREFIX}SECRET_KEY is too short: use at least 24 random characters")
        cfg["SECRET_KEY"] = raw or _generated(
            instance, "secret_key", lambda: secrets.token_urlsafe(48), PREFIX + "SECRET_KEY"
        )

    if "APP_SECRETS_KEYS" not in given:
        raw = env.get(PREFIX + "APP_SECRETS_KEY", "").strip()
        if not raw:
            raw = _generated(
                instance, "app_secrets_key", lambda: Fernet.generate_key().decode("ascii"),
                PREFIX + "APP_SECRETS_KEY",
            )
        cfg["APP_SECRETS_KEYS"] = parse_fernet_keys(raw)
    else:
        keys = given["APP_SECRETS_KEYS"]
        given["APP_SECRETS_KEYS"] = parse_fernet_keys(keys if isinstance(keys, str) else ",".join(keys))

    redis_url = env.get(PREFIX + "REDIS_URL", "").strip()
    if redis_url:
        _url(redis_url, PREFIX + "REDIS_URL", {"redis", "rediss", "unix"})
    cfg["REDIS_URL"] = redis_url or None
    if "RATELIMIT_STORAGE_URI" not in given:
        cfg["RATELIMIT_STORAGE_URI"] = redis_url or "memory://"

    base_url = env.get(PREFIX + "BASE_URL", "").strip()
    if base_url:
        _url(base_url, PREFIX + "BASE_URL", {"http", "https"})
    cfg["BASE_URL"] = base_url.rstrip("/") or None

    secure = _bool(env, "COOKIE_SECURE")
    if secure is None:
        secure = base_url.startswith("https://")
    cfg["SESSION_COOKIE_SECURE"] = secure
    cfg["REMEMBER_COOKIE_SECURE"] = secure

    raw_proxies = env.get(PREFIX + "PROXY_COUNT", "").strip() or "0"
    if not raw_proxies.isdigit() or int(raw_proxies) > 10:
        raise ConfigError(f"{PREFIX}PROXY_COUNT must be a small whole number (0 when nothing is in front)")
    cfg["PROXY_COUNT"] = int(raw_proxies)

    from .audit.buffer import parse_buffered

    variable = PREFIX + "AUDIT_BUFFERED"
    try:
        if "AUDIT_BUFFERED" in given:
            given["AUDIT_BUFFERED"] = parse_buffered(given["AUDIT_BUFFERED"])
        else:
            cfg["AUDIT_BUFFERED"] = parse_buffered(env.get(variable))
    except ValueError as err:
        raise ConfigError(f"{variable}: {err} (give event names, comma-separated, or none)") from err

    for name, default in (("LOGIN_LIMIT_IP", "20 per minute"), ("LOGIN_LIMIT_LOGIN", "5 per minute")):
        raw = env.get(PREFIX + name, "").strip() or default
        try:
            parse_many(raw)
        except ValueError as err:
            raise ConfigError(f"{PREFIX}{name} is not a rate limit such as '5 per minute'") from err
        cfg[name] = raw

    cfg.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_STRATEGY="fixed-window",
        PASSWORD_HASH_FAST=False,
        SET_PASSWORD_MAX_AGE=3 * 24 * 3600,
        USERS_PER_PAGE=50,
        AUDIT_PER_PAGE=50,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    cfg.update(given)
    return cfg
