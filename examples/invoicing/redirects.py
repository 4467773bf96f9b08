"""Where may the app send a browser after login? One pure function decides.

A Multipass token arrives with a ``return_to`` claim, and ``/login`` keeps the page first
asked for. Both end up in a ``Location`` header, so both pass through
:func:`safe_return_to`, which allows only a path on this app (or a full URL of this app's
own origin, turned into a path). Everything else -- another host, ``//evil``, ``/\\evil``,
``https:\\evil``, ``/%09/evil``, CR/LF, ``user@evil``, ``javascript:`` -- gives ``None``,
and the caller sends the user home instead.

Deliberately copied into the example rather than imported from the hub: a connected app
must not depend on the hub's code.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MAX_LENGTH = 2048


def _is_clean_path(path: str) -> bool:
    """A path that every browser reads as a path on the current origin."""
    # Check the text as sent and once and twice percent-decoded, so that "/%2F/evil" or
    # "/%09/evil" cannot turn into "//evil" in some layer that decodes it.
    candidates = {path, unquote(path), unquote(unquote(path))}
    for text in candidates:
        if not text.startswith("/") or text.startswith("//"):
            return False
        if "\\" in text or any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text):
            return False
        if text[1:2].isspace():
            return False
    return True


def safe_return_to(value: object, own_origin: str) -> str | None:
    """Return ``value`` as a safe relative path on ``own_origin``, or ``None``.

    ``own_origin`` is this app's ``scheme://host[:port]`` (e.g. ``request.host_url``).
    A relative path is kept as it is; an absolute URL is accepted only on exactly that
    origin (no user-info) and returned as its path, query and fragment.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_LENGTH:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in value):
        return None
    if value.startswith("/"):
        return value if _is_clean_path(value) else None
    try:
        target = urlsplit(value)
        own = urlsplit(own_origin)
        target_port, own_port = target.port, own.port
    except ValueError:
        return None
    if target.scheme.lower() not in {"http", "https"} or "@" in target.netloc:
        return None
    same_origin = (
        target.scheme.lower() == own.scheme.lower()
        and (target.hostname or "") == (own.hostname or "")
        and (target_port or _default_port(target.scheme)) == (own_port or _default_port(own.scheme))
    )
    if not same_origin:
        return None
    path = target.path or "/"
    if target.query:
        path += "?" + target.query
    if target.fragment:
        path += "#" + target.fragment
    return path if _is_clean_path(path) else None


def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80
