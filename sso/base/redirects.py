"""The one place that decides where the hub may send a browser (and a token).

Pure functions, no Flask. Every redirect in the hub goes through :func:`safe_return_to`,
:func:`check_login_url` or :func:`match_login_url` (the service-initiated flow's exact match).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from .errors import ValidationError

__all__ = [
    "canonical_login_url",
    "check_login_url",
    "match_login_url",
    "normalize_origin",
    "origin_of",
    "safe_return_to",
]

MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BAD_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cs", "Cn"}


def _has_bad_chars(value: str) -> bool:
    return any(ch == "\\" or unicodedata.category(ch) in _BAD_CATEGORIES for ch in value)


def _unsafe_after_slash(ch: str) -> bool:
    return ch == "/" or ch.isspace() or _has_bad_chars(ch)


def _suspicious(value: str) -> bool:
    """True if ``value``, or any percent-decoding of it, could be read as another host.

    The raw value must hold no backslash, control, format or white-space character; once
    decoded (some servers and proxies decode before redirecting; up to four rounds, and a
    value still changing after that is refused) it must hold no control character and its
    leading ``/`` must not be followed by ``/``, ``\\``, white space or a character the raw
    value may not hold (browsers drop some of them, turning ``/\\t/evil`` into ``//evil``).
    """
    if _has_bad_chars(value):
        return True
    current = value
    for _ in range(4):
        if any(unicodedata.category(ch) == "Cc" for ch in current):
            return True
        if current.startswith("/") and len(current) > 1 and _unsafe_after_slash(current[1]):
            return True
        decoded = unquote(current)
        if decoded == current:
            return False
        current = decoded
    return True  # still changing after several rounds: refuse


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, lower case, default port dropped.

    ``None`` if ``url`` is not an absolute http(s) URL with a host and no credentials.
    """
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH or _has_bad_chars(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc or "@" in parts.netloc:
        return None
    host = (parts.hostname or "").lower()
    if not host or host.strip(".") != host or any(c in host for c in "/?#%"):
        return None
    if port is not None and not 0 < port < 65536:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def normalize_origin(value: str) -> str:
    """Check an allowed origin as typed by IT and return its canonical form.

    Accepts ``https://host[:port]`` with at most a trailing ``/``. Raises ValidationError.
    """
    text = (value or "").strip()
    origin = origin_of(text)
    if origin is None:
        raise ValidationError(f"{text[:100]!r} is not an origin such as https://app.example.com")
    parts = urlsplit(text)
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValidationError(f"{text[:100]!r} must be an origin only (no path, query or fragment)")
    return origin


def _allowed(allowed_origins: Iterable[str]) -> set[str]:
    result = set()
    for item in allowed_origins:
        origin = origin_of(item)
        if origin:
            result.add(origin)
    return result


def safe_return_to(value: object, allowed_origins: Iterable[str] = ()) -> str | None:
    """Return ``value`` if it is a safe place to send the browser, else ``None``.

    Safe means a relative path starting with a single ``/`` or an absolute http(s) URL
    on one of ``allowed_origins``. Refused: ``//evil``, ``/\\evil``, ``https:\\evil``,
    ``/%09/evil``, control characters (CR/LF/TAB...), ``user@evil``, ``javascript:`` and
    anything else that is not clearly one of the two safe forms.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        return None
    if _suspicious(value):
        return None
    if value.startswith("/"):
        try:
            parts = urlsplit(value)
        except ValueError:
            return None
        if parts.scheme or parts.netloc:
            return None
        return value
    origin = origin_of(value)
    if origin is None or origin not in _allowed(allowed_origins):
        return None
    return value


def check_login_url(url: object, allowed_origins: Iterable[str]) -> str:
    """Return ``url`` if it is an absolute URL on one of ``allowed_origins``.

    Raises :class:`ValidationError` otherwise: a token is only ever sent there.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("login_url is missing.")
    if origin_of(url) is None or safe_return_to(url, allowed_origins) is None:
        raise ValidationError(
            "login_url is not an address registered for this app, so no token was issued."
        )
    return url


def canonical_login_url(url: object) -> str | None:
    """``url`` as the exact-match form of a registered login URL, or None if it cannot be one.

    Absolute http(s), passes :func:`safe_return_to`'s checks, no fragment (not even an empty
    ``#``). Scheme and host are lower-cased and a default port dropped (as in
    :func:`origin_of`); the path (``/`` when empty) and the query are kept byte for byte, so
    ``/login`` and ``/login/`` or ``/Login`` are different URLs, except that ``multipass``
    parameters are left out of the query (the hub puts its own there).
    """
    if not isinstance(url, str) or "#" in url:
        return None
    origin = origin_of(url)
    if origin is None or safe_return_to(url, [origin]) is None:
        return None
    parts = urlsplit(url)
    path = parts.path or "/"
    query = "&".join(p for p in parts.query.split("&") if p and p.split("=", 1)[0] != "multipass")
    return f"{origin}{path}?{query}" if query else f"{origin}{path}"


def match_login_url(url: object, registered: Iterable[str]) -> str:
    """Return ``url`` if it is exactly one of the ``registered`` login URLs (scheme, host,
    port, path and query; see :func:`canonical_login_url`).

    Raises :class:`ValidationError` otherwise: a token is only ever sent there.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("login_url is missing.")
    canonical = canonical_login_url(url)
    if canonical is None or canonical not in {canonical_login_url(item) for item in registered}:
        raise ValidationError(
            "login_url is not a login address registered for this app, so no token was issued."
        )
    return url
