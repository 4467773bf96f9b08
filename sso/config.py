"""Every configuration key of the hub, declared once in :data:`SETTINGS` and checked at start-up.

A :class:`Setting` names the Flask key, the ``SSO_*`` environment variable that sets it (or
None for a key fixed in code), its type, default and one line of help: the README's
Configuration tables are these declarations, row for row (``tests/test_settings_complete.py``
compares them). :func:`load_config` walks :data:`SETTINGS`; a plugin declares its own
settings with the same type and loads them with :func:`load_settings`.

Rules, the same for every key:

* a blank variable counts as unset: the key gets its default;
* a bad value raises :class:`~sso.base.errors.ConfigError` naming the variable and what to set;
* a key given in the app factory's ``test_config`` (``overrides``) wins, and for it nothing is
  read from the environment or generated;
* every value an operator may tune has a variable; keys without one are fixed on purpose
  (cookie flags, test switches) or follow from a variable (``THROTTLE_STORAGE_URI``);
* there is no built-in secret: an unset ``SSO_SECRET_KEY`` or ``SSO_APP_SECRETS_KEY`` is
  generated once into the instance folder (and the log says so).
"""

from __future__ import annotations

import copy
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .base.errors import ConfigError

if TYPE_CHECKING:
    from flask import Flask

__all__ = [
    "SETTINGS", "Computed", "Setting", "check_database_url", "instance_folder", "load_config",
    "load_settings", "number", "parse_fernet_keys", "parse_secret_keys", "whole_number",
]

log = logging.getLogger(__name__)

PREFIX = "SSO_"
MIN_SECRET_KEY_LENGTH = 24
ROOT = Path(__file__).resolve().parent.parent
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

Parser = Callable[[str, str], Any]
"""``parse(text, variable)``: the checked value of a variable's (stripped, non-blank) text;
raises :class:`ConfigError` naming ``variable``."""


@dataclass(frozen=True)
class Computed:
    """A default worked out at start-up: ``make(instance_folder, values)``, where ``values``
    holds the settings declared before this one; ``text`` says how, for the README."""

    text: str
    make: Callable[[Path, Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Setting:
    """One configuration key.

    ``key`` is the Flask config key; ``env`` the variable that sets it, or None for a key
    fixed in code (then ``parse`` is None too). ``type`` and ``help`` are the README's words;
    ``default`` is a value or a :class:`Computed`. Several settings may name one variable
    (``SSO_SECRET_KEY`` feeds ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``): the later ones
    follow the first, and when the first is given in the overrides none of them reads it.
    ``coerce(value, variable)``, if set, checks and converts a value given in the overrides.
    """

    key: str
    env: str | None
    type: str
    default: Any
    parse: Parser | None
    help: str
    coerce: Callable[[Any, str], Any] | None = None

    def __post_init__(self) -> None:
        if (self.env is None) != (self.parse is None):
            raise ValueError(f"setting {self.key}: a variable needs a parser, and a parser a variable")
        if self.env is not None and not self.env.startswith(PREFIX):
            raise ValueError(f"setting {self.key}: variable {self.env} does not start with {PREFIX}")

    @property
    def default_text(self) -> str:
        """The default as the README shows it."""
        return _shown(self.default)

    def markdown_row(self) -> str:
        """This setting's row of the README's Configuration tables."""
        return f"| `{self.env or self.key}` | {self.type} | {self.default_text} | {self.help} |"


def _shown(value: Any) -> str:
    if isinstance(value, Computed):
        return value.text
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, (list, tuple, frozenset, set)):
        return f"`{', '.join(sorted(map(str, value)))}`" if value else "none"
    return f"`{value}`"


# -- parsers: (text, variable) -> value ----------------------------------------------------------


def parse_bool(raw: str, variable: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no, on/off)."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{variable} must be true or false, not {raw!r}")


def whole_number(low: int, high: int) -> Parser:
    """A parser of whole numbers from ``low`` to ``high``."""

    def parse(raw: str, variable: str) -> int:
        text = raw.strip()
        if not text.isdigit() or not low <= int(text) <= high:
            raise ConfigError(f"{variable} must be a whole number from {low} to {high}, not {raw!r}")
        return int(text)

    return parse


def number(low: float, high: float) -> Parser:
    """A parser of (decimal) numbers from ``low`` to ``high``, such as seconds."""

    def parse(raw: str, variable: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            value = float("nan")
        if not low <= value <= high:  # also false for nan and inf
            raise ConfigError(f"{variable} must be a number from {low:g} to {high:g}, not {raw!r}")
        return value

    return parse


def _proxy_count(raw: str, variable: str) -> int:
    if not raw.isdigit() or int(raw) > 10:
        raise ConfigError(f"{variable} must be a small whole number (0 when nothing is in front)")
    return int(raw)


def _rate_limit(raw: str, variable: str) -> str:
    try:
        parse_many(raw)
    except ValueError as err:
        raise ConfigError(f"{variable} is not a rate limit such as '5 per minute'") from err
    return raw


def _url(value: str, variable: str, schemes: set[str]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(f"{variable} must be a URL starting with {' or '.join(sorted(schemes))}")
    return value


def _redis_url(raw: str, variable: str) -> str:
    return _url(raw, variable, {"redis", "rediss", "unix"})


def _base_url(raw: str, variable: str) -> str | None:
    return _url(raw, variable, {"http", "https"}).rstrip("/") or None


LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
# Names and IPv4 addresses: Werkzeug's host check cannot match an IPv6 literal.
_HOST_NAME = re.compile(r"\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def _host_names(raw: str, variable: str) -> list[str]:
    """Comma-separated host names (``sso.example.com``, ``.example.com`` for every
    sub-domain) or IPv4 addresses; no scheme, port or path."""
    hosts = [part.strip().lower().rstrip(".") or part.strip() for part in raw.split(",") if part.strip()]
    for host in hosts:
        if not _HOST_NAME.fullmatch(host) or len(host) > 253:
            raise ConfigError(
                f"{variable}: {host!r} is not a host name; give names such as sso.example.com, comma-separated"
                " (no scheme, port or path; .example.com for every sub-domain; IPv6 addresses cannot be listed)"
            )
    return hosts


def _given_host_names(value: Any, variable: str) -> list[str]:
    if not value:
        return []
    return _host_names(value if isinstance(value, str) else ",".join(value), variable)


def _trusted_hosts(instance: Path, values: Mapping[str, Any]) -> list[str]:
    """The host of ``SSO_BASE_URL`` plus ``SSO_TRUSTED_HOSTS``; with neither, loopback only."""
    hosts = list(values["EXTRA_TRUSTED_HOSTS"])
    base = values["BASE_URL"]
    if base:
        hosts.insert(0, _host_names(urlsplit(base).hostname or "", PREFIX + "BASE_URL's host")[0])
    return list(dict.fromkeys(hosts)) or list(LOOPBACK_HOSTS)


def _directory(raw: str, variable: str) -> str:
    path = Path(raw).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{variable} must be a directory, and {path} is a file")
    return str(path)


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


def parse_secret_keys(raw: str, variable: str = PREFIX + "SECRET_KEY") -> list[str]:
    """Split and check a comma-separated list of secret keys, newest first."""
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    if not keys:
        raise ConfigError(
            f"{variable} is empty: give one or more keys of at least {MIN_SECRET_KEY_LENGTH} random "
            "characters, comma-separated, newest first"
        )
    for index, key in enumerate(keys, start=1):
        if len(key) < MIN_SECRET_KEY_LENGTH:
            which = f"{variable} is" if len(keys) == 1 else f"{variable}: key number {index} is"
            raise ConfigError(f"{which} too short: use at least {MIN_SECRET_KEY_LENGTH} random characters")
    return keys


def _newest_secret_key(raw: str, variable: str) -> str:
    return parse_secret_keys(raw, variable)[0]


def _older_secret_keys(raw: str, variable: str) -> list[str]:
    return parse_secret_keys(raw, variable)[1:]


def _given_fallbacks(value: Any, variable: str) -> list[str]:
    if not value:
        return []
    return parse_secret_keys(value if isinstance(value, str) else ",".join(value), variable)


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


def _given_fernet_keys(value: Any, variable: str) -> list[str]:
    return parse_fernet_keys(value if isinstance(value, str) else ",".join(value), variable)


MAX_BRAND_NAME = 60
MAX_LOGO_BYTES = 256 * 1024
#: Logo file types the hub serves, by suffix (the type it is served as follows the suffix).
LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
              ".webp": "image/webp", ".svg": "image/svg+xml"}


def _brand_name(raw: str, variable: str) -> str:
    text = " ".join(raw.split())
    if len(text) > MAX_BRAND_NAME or any(ord(ch) < 32 or ord(ch) == 127 for ch in raw.strip()):
        raise ConfigError(f"{variable} must be a name of at most {MAX_BRAND_NAME} characters on one line")
    return text


def _brand_logo(raw: str, variable: str) -> str:
    path = Path(raw).expanduser().resolve()
    if path.suffix.lower() not in LOGO_TYPES:
        raise ConfigError(f"{variable} must name a {', '.join(sorted(LOGO_TYPES))} file, not {path.name!r}")
    if not path.is_file():
        raise ConfigError(f"{variable}: no file at {path}")
    if path.stat().st_size > MAX_LOGO_BYTES:
        raise ConfigError(f"{variable}: the logo is larger than {MAX_LOGO_BYTES // 1024} KiB")
    return str(path)


def _audit_buffered(raw: Any, variable: str) -> frozenset[str]:
    from .audit.buffer import parse_buffered

    try:
        return parse_buffered(raw)
    except ValueError as err:
        raise ConfigError(f"{variable}: {err} (give event names, comma-separated, or none)") from err


# -- defaults worked out at start-up ---------------------------------------------------------------


def _generated(instance_path: Path, name: str, make: Callable[[], str], variable: str) -> str:
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


def _sqlite_in_instance(instance: Path, values: Mapping[str, Any]) -> str:
    instance.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance / 'sso.sqlite3'}"


def _generated_secret_key(instance: Path, values: Mapping[str, Any]) -> str:
    return _generated(instance, "secret_key", lambda: secrets.token_urlsafe(48), PREFIX + "SECRET_KEY")


def _generated_fernet_keys(instance: Path, values: Mapping[str, Any]) -> list[str]:
    variable = PREFIX + "APP_SECRETS_KEY"
    raw = _generated(instance, "app_secrets_key", lambda: Fernet.generate_key().decode("ascii"), variable)
    return parse_fernet_keys(raw, variable)


def _mfa_policy(raw: str, variable: str) -> str:
    value = raw.strip().lower()
    if value not in {"none", "admins", "everyone"}:
        raise ConfigError(f"{variable} must be none, admins or everyone, not {raw!r}")
    return value


def _smtp_url(raw: str, variable: str) -> str:
    from .accounts.mail import check_smtp_url

    return check_smtp_url(raw, variable)


def _mail_from(raw: str, variable: str) -> str:
    from email.headerregistry import Address
    from email.utils import parseaddr

    _name, address = parseaddr(raw)
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError) as err:
        raise ConfigError(f"{variable} must be an e-mail address such as 'SSO <sso@example.org>'") from err
    if "@" not in address:
        raise ConfigError(f"{variable} must be an e-mail address such as 'SSO <sso@example.org>'")
    return raw.strip()


def _generated_pepper(instance: Path, values: Mapping[str, Any]) -> str:
    return _generated(instance, "mfa_pepper", lambda: secrets.token_urlsafe(32), PREFIX + "MFA_PEPPER")


def _pepper(raw: str, variable: str) -> str:
    if len(raw.strip()) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"{variable} is too short: use at least {MIN_SECRET_KEY_LENGTH} random characters")
    return raw.strip()


# -- the hub's settings ----------------------------------------------------------------------------

_MINUTE, _DAY = 60, 24 * 3600

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "INSTANCE_PATH", PREFIX + "INSTANCE_PATH", "directory",
        Computed("`instance/` in the project folder", lambda instance, values: str(ROOT / "instance")),
        _directory, "where the generated keys and the default SQLite database live",
    ),
    Setting(
        "SQLALCHEMY_DATABASE_URI", PREFIX + "DATABASE_URL", "URL",
        Computed("SQLite file `instance/sso.sqlite3`", _sqlite_in_instance), check_database_url,
        "SQLAlchemy URL: `sqlite:///...` or `postgresql+psycopg://...` (`postgresql://` means psycopg)",
    ),
    Setting(
        "SECRET_KEY", PREFIX + "SECRET_KEY", "list of keys",
        Computed("generated once into `instance/secret_key`", _generated_secret_key), _newest_secret_key,
        "signs sessions and set-password links; comma-separated, newest first, each at least 24 characters:"
        " the first signs (`SECRET_KEY`), all verify (the rest become `SECRET_KEY_FALLBACKS`)",
    ),
    Setting(
        "SECRET_KEY_FALLBACKS", PREFIX + "SECRET_KEY", "list of keys", [], _older_secret_keys,
        "the older keys of `SSO_SECRET_KEY`: they still verify sessions and links, never sign",
        coerce=_given_fallbacks,
    ),
    Setting(
        "APP_SECRETS_KEYS", PREFIX + "APP_SECRETS_KEY", "list of Fernet keys",
        Computed("generated once into `instance/app_secrets_key`", _generated_fernet_keys), parse_fernet_keys,
        "encrypt the connected apps' secrets; comma-separated: the first encrypts, all decrypt"
        " (`apps rewrap-secrets` re-encrypts under the first)",
        coerce=_given_fernet_keys,
    ),
    Setting(
        "REDIS_URL", PREFIX + "REDIS_URL", "URL", None, _redis_url,
        "Redis (`redis://`, `rediss://`, `unix://`) for the login rate limits, shared by every hub instance;"
        " unset: counted in memory, per process",
    ),
    Setting(
        "THROTTLE_STORAGE_URI", None, "URL",
        Computed("`SSO_REDIS_URL`, else `memory://`", lambda instance, values: values["REDIS_URL"] or "memory://"),
        None, "where failed logins are counted (the `limits` library's storage URL)",
    ),
    Setting(
        "THROTTLE_PREFIX", None, "str", "sso:login", None,
        "prefix of the login counters' keys in that storage",
    ),
    Setting(
        "BASE_URL", PREFIX + "BASE_URL", "URL", None, _base_url,
        "the hub's public URL, for the links the CLI and admin pages show; `https://` turns on Secure cookies",
    ),
    Setting(
        "EXTRA_TRUSTED_HOSTS", PREFIX + "TRUSTED_HOSTS", "list of host names", [], _host_names,
        "more host names the hub answers to, besides the host of `SSO_BASE_URL` (comma-separated;"
        " `.example.com` for every sub-domain); requests for any other `Host` get 400",
        coerce=_given_host_names,
    ),
    Setting(
        "TRUSTED_HOSTS", None, "list of host names",
        Computed("the host of `SSO_BASE_URL` plus `SSO_TRUSTED_HOSTS`; with neither, loopback only"
                 " (`localhost`, `127.0.0.1`)", _trusted_hosts),
        None, "Flask's host check: a request whose `Host` (or trusted `X-Forwarded-Host`) is not listed gets 400",
    ),
    Setting(
        "SESSION_COOKIE_SECURE", PREFIX + "COOKIE_SECURE", "bool",
        Computed("`true` when `SSO_BASE_URL` is `https://`",
                 lambda instance, values: str(values["BASE_URL"] or "").startswith("https://")),
        parse_bool, "send the session and remember cookies over HTTPS only (`true`/`false`)",
    ),
    Setting(
        "REMEMBER_COOKIE_SECURE", None, "bool",
        Computed("same as `SESSION_COOKIE_SECURE`", lambda instance, values: values["SESSION_COOKIE_SECURE"]),
        None, "Flask-Login's remember cookie over HTTPS only",
    ),
    Setting("SESSION_COOKIE_HTTPONLY", None, "bool", True, None, "scripts cannot read the session cookie"),
    Setting("SESSION_COOKIE_SAMESITE", None, "str", "Lax", None, "no session cookie on cross-site subrequests"),
    Setting("REMEMBER_COOKIE_HTTPONLY", None, "bool", True, None, "scripts cannot read the remember cookie"),
    Setting("REMEMBER_COOKIE_SAMESITE", None, "str", "Lax", None, "no remember cookie on cross-site subrequests"),
    Setting(
        "SESSION_IDLE_TIMEOUT", PREFIX + "SESSION_IDLE_TIMEOUT", "seconds, 60-86400", 30 * _MINUTE,
        whole_number(_MINUTE, _DAY),
        "a hub session unused for this long ends (default 30 minutes); the user logs in again",
    ),
    Setting(
        "SESSION_MAX_AGE", PREFIX + "SESSION_MAX_AGE", "seconds, 300-2592000", 12 * 3600,
        whole_number(5 * _MINUTE, 30 * _DAY),
        "a hub session ends this long after its login, however active (default 12 hours)",
    ),
    Setting(
        "HSTS_MAX_AGE", PREFIX + "HSTS_MAX_AGE", "seconds, 0-63072000", 365 * _DAY, whole_number(0, 2 * 365 * _DAY),
        "`Strict-Transport-Security` max-age sent on responses served over HTTPS (`SSO_BASE_URL` `https://`"
        " or an HTTPS request); `0` tells browsers to forget it",
    ),
    Setting(
        "LOGIN_LIMIT_IP", PREFIX + "LOGIN_LIMIT_IP", "rate limit", "20 per minute", _rate_limit,
        "login attempts per client IP",
    ),
    Setting(
        "LOGIN_LIMIT_LOGIN", PREFIX + "LOGIN_LIMIT_LOGIN", "rate limit", "5 per minute", _rate_limit,
        "failed login attempts per account (whichever spelling, login or e-mail, named it)",
    ),
    Setting(
        "PROXY_COUNT", PREFIX + "PROXY_COUNT", "int, 0-10", 0, _proxy_count,
        "trusted reverse proxies in front of the hub: client IP, scheme and host come from their"
        " `X-Forwarded-*` headers",
    ),
    Setting(
        "AUDIT_BUFFERED", PREFIX + "AUDIT_BUFFERED", "list of event names",
        Computed("`jump`", lambda instance, values: _audit_buffered(None, PREFIX + "AUDIT_BUFFERED")),
        _audit_buffered,
        "audit events written in batches off the request path; `none`: every event is written in its request",
        coerce=_audit_buffered,
    ),
    Setting(
        "OIDC_ACCESS_TOKEN_LIFETIME", PREFIX + "OIDC_ACCESS_TOKEN_LIFETIME", "seconds, 60-3600", 600,
        whole_number(60, 3600), "how long an OpenID Connect access token is valid (default 10 minutes)",
    ),
    Setting(
        "OIDC_ID_TOKEN_LIFETIME", PREFIX + "OIDC_ID_TOKEN_LIFETIME", "seconds, 60-86400", 600,
        whole_number(60, 86400),
        "how long an ID token is valid; a replaced signing key stays in the JWKS this long after the switch",
    ),
    Setting(
        "OIDC_REFRESH_TOKEN_LIFETIME", PREFIX + "OIDC_REFRESH_TOKEN_LIFETIME", "seconds, 300-7776000", 1209600,
        whole_number(300, 7776000),
        "how long an OpenID Connect refresh token is valid, for apps allowed refresh tokens (default 14 days);"
        " each use rotates it",
    ),
    Setting(
        "APP_CACHE_TTL", PREFIX + "APP_CACHE_TTL", "seconds, 0-2", 2.0, number(0, 2),
        "how long a worker keeps a connected app's settings for the jump; a change made elsewhere shows within"
        " this time; `0` turns the cache off",
    ),
    Setting(
        "USERS_PER_PAGE", PREFIX + "USERS_PER_PAGE", "int, 1-500", 50, whole_number(1, 500),
        "rows per page of the users admin page",
    ),
    Setting(
        "AUDIT_PER_PAGE", PREFIX + "AUDIT_PER_PAGE", "int, 1-500", 50, whole_number(1, 500),
        "rows per page of the audit log",
    ),
    Setting(
        "SET_PASSWORD_MAX_AGE", PREFIX + "SET_PASSWORD_MAX_AGE", "seconds, 60-2592000", 3 * _DAY,
        whole_number(_MINUTE, 30 * _DAY), "how long a set-password link stays valid (default 3 days, at most 30)",
    ),
    Setting(
        "MAX_CONTENT_LENGTH", PREFIX + "MAX_CONTENT_LENGTH", "bytes", 16 * 1024 * 1024,
        whole_number(1024, 1024**3),
        "largest request body (default 16 MiB; CSV uploads included); larger requests get 413",
    ),
    Setting(
        "BRAND_NAME", PREFIX + "BRAND_NAME", "str, 1-60 characters", "Multipass SSO", _brand_name,
        "the hub's name in every page's title and header (the login page says \"Sign in to …\")",
    ),
    Setting(
        "BRAND_LOGO", PREFIX + "BRAND_LOGO", "file path", None, _brand_logo,
        "a logo shown before the name in every page's header: a PNG, JPEG, GIF, WebP or SVG file of at most"
        " 256 KiB, served by the hub itself at `/brand/logo` (so the strict CSP holds)",
    ),
    Setting(
        "SQLALCHEMY_ENGINE_OPTIONS", None, "dict", {"pool_pre_ping": True}, None,
        "database connections are checked before use (the server may have restarted)",
    ),
    Setting(
        "PASSWORD_HASH_FAST", None, "bool", False, None,
        "cheap argon2 parameters, for the test suite only (never set by a variable)",
    ),
    Setting(
        "MFA_REQUIRED", PREFIX + "MFA_REQUIRED", "none, admins or everyone", "none", _mfa_policy,
        "who must use a second factor (authenticator app or passkey); someone without one sets it up at"
        " their next sign-in",
    ),
    Setting(
        "MFA_PEPPER", PREFIX + "MFA_PEPPER", "secret",
        Computed("generated once into `instance/mfa_pepper`", _generated_pepper), _pepper,
        "keys the hashes of recovery codes and the passkey user handles; changing it voids every recovery"
        " code and passkey",
    ),
    Setting(
        "SMTP_URL", PREFIX + "SMTP_URL", "URL", None, _smtp_url,
        "mail server for forgot-password mails: `smtp://host:port` (STARTTLS when offered) or"
        " `smtps://user:password@host:port`; unset: no mail, admins hand out set-password links",
    ),
    Setting(
        "MAIL_FROM", PREFIX + "MAIL_FROM", "e-mail address", "Multipass SSO <sso@localhost>", _mail_from,
        "the sender of the hub's mails",
    ),
)


# -- loading ---------------------------------------------------------------------------------------


def _resolve(settings: Iterable[Setting], environ: Mapping[str, str], given: Mapping[str, Any],
             instance: Path) -> dict[str, Any]:
    """The value of each setting, in declaration order (see the module's rules)."""
    values: dict[str, Any] = {}
    first_given: dict[str, bool] = {}  # variable -> was the first setting naming it given?
    for setting in settings:
        variable = setting.env
        if variable is not None and variable not in first_given:
            first_given[variable] = setting.key in given
        if setting.key in given:
            value = given[setting.key]
            values[setting.key] = setting.coerce(value, variable or setting.key) if setting.coerce else value
            continue
        raw = ""
        if variable is not None and not first_given[variable]:
            raw = (environ.get(variable) or "").strip()
        if raw and variable is not None and setting.parse is not None:
            values[setting.key] = setting.parse(raw, variable)
        elif isinstance(setting.default, Computed):
            values[setting.key] = setting.default.make(instance, values)
        else:
            values[setting.key] = copy.deepcopy(setting.default)
    return values


def _check_unique(settings: Iterable[Setting]) -> None:
    seen: set[str] = set()
    for setting in settings:
        if setting.key in seen:
            raise ConfigError(f"configuration key {setting.key} is declared twice")
        seen.add(setting.key)


_check_unique(SETTINGS)


def instance_folder(given: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The absolute instance folder: ``given`` (``test_config["INSTANCE_PATH"]``), else
    ``SSO_INSTANCE_PATH``, else ``instance/`` in the project folder."""
    env = os.environ if environ is None else environ
    setting = next(setting for setting in SETTINGS if setting.key == "INSTANCE_PATH")
    overrides = {} if given is None else {setting.key: str(Path(given).resolve())}
    return str(_resolve((setting,), env, overrides, ROOT / "instance")[setting.key])


def load_config(instance_path: str | os.PathLike[str], environ: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask configuration from :data:`SETTINGS` and ``environ`` (default ``os.environ``).

    Keys present in ``overrides`` (the app factory's ``test_config``) win, and for those
    nothing is generated or read from the environment; undeclared keys in ``overrides``
    (Flask's and the extensions' own, such as ``TESTING``) are passed through unchanged.
    ``INSTANCE_PATH`` is ``instance_path``. Raises :class:`ConfigError` naming the variable.
    """
    env = os.environ if environ is None else environ
    instance = Path(instance_path)
    given = {**(overrides or {}), "INSTANCE_PATH": str(instance)}
    values = _resolve(SETTINGS, env, given, instance)
    values.update((key, value) for key, value in given.items() if key not in values)
    return values


def load_settings(app: Flask, settings: Iterable[Setting], environ: Mapping[str, str] | None = None) -> None:
    """Load a plugin's ``settings`` into ``app.config``, by the same rules as the hub's.

    Called from the plugin's ``init_app``. A key already in ``app.config`` (given in the app
    factory's ``test_config``) wins and its variable is not read. A plugin may not redeclare
    one of the hub's keys. Raises :class:`ConfigError` naming the variable.
    """
    settings = tuple(settings)
    _check_unique((*SETTINGS, *settings))
    env = os.environ if environ is None else environ
    given = {setting.key: app.config[setting.key] for setting in settings if setting.key in app.config}
    app.config.update(_resolve(settings, env, given, Path(app.instance_path)))
