"""How logins and e-mails are checked and compared: the one normalisation of the project.

Pure: standard library only, so the hub, the pairing plugin and every connected app (the
reference app included) import the same rule and can never disagree on who is who.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from .errors import ValidationError

__all__ = ["clean_email", "clean_login", "clean_name", "normalize_key", "normalize_keys"]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_LOGIN_LENGTH = 64  # its key is at most 3x longer (case folding: "ﬃ" -> "ffi"): fits 200
MAX_EMAIL_LENGTH = 254
MAX_EMAIL_KEY_LENGTH = 400  # the hub's email_key column


def normalize_key(value: str | None) -> str:
    """The form in which logins and e-mails are compared (``" Ann "``, ``"ANN"`` agree).

    The rule, applied to the raw value: strip what :meth:`str.strip` strips (every
    character for which :meth:`str.isspace` is true: Unicode white space such as tabs,
    no-break and ideographic spaces, plus U+001C..U+001F), and nothing else, once, first;
    then Unicode NFC, case folding (``ß``, ``ẞ`` and ``SS`` agree; Turkish ``ı`` stays
    apart from ``i``) and NFC again, because folding can decompose (``ß`` + U+0301 folds to
    ``ss`` + U+0301, which composes to ``sś``). No compatibility mapping: fullwidth ``Ａ``
    is not ``A``. ``None`` and ``""`` give ``""``, which must never link two users.

    For ASCII text NFC changes nothing and case folding is ``lower()``, so that path is
    taken directly; it is the same rule, only faster.
    """
    if not value:
        return ""
    value = value.strip()
    if value.isascii():
        return value.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())


def normalize_keys(values: Iterable[str | None]) -> list[str]:
    """:func:`normalize_key` of each value, with the ASCII case inlined (matching's hot path)."""
    key = normalize_key
    # For ASCII, strip() leaves ASCII, so this is exactly normalize_key's own fast path.
    return [v.strip().lower() if v and v.isascii() else key(v) for v in values]


def _printable(value: str) -> bool:
    return not any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp", "Cs", "Co"} for ch in value)


def clean_login(value: object) -> str:
    """Check a login and return it trimmed (NFC). Raises ValidationError."""
    text = unicodedata.normalize("NFC", str(value or "").strip())
    if not text:
        raise ValidationError("The login is required.", field="login")
    if len(text) > MAX_LOGIN_LENGTH:
        raise ValidationError(f"The login is longer than {MAX_LOGIN_LENGTH} characters.", field="login")
    if not _printable(text) or any(ch.isspace() for ch in text):
        raise ValidationError("The login must not contain spaces or control characters.", field="login")
    return text


def clean_email(value: object) -> str:
    """Check an e-mail address and return it trimmed (NFC). Raises ValidationError."""
    text = unicodedata.normalize("NFC", str(value or "").strip())
    if not text:
        raise ValidationError("The e-mail address is required.", field="email")
    if len(text) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(text) or not _printable(text):
        raise ValidationError(f"{text[:80]!r} is not a valid e-mail address.", field="email")
    if len(normalize_key(text)) > MAX_EMAIL_KEY_LENGTH:
        raise ValidationError(
            "The e-mail address is too long once its letters are compared case-insensitively.", field="email"
        )
    return text


def clean_name(value: object) -> str | None:
    """Check a display name; empty means none. Raises ValidationError."""
    text = unicodedata.normalize("NFC", str(value or "").strip())
    if not text:
        return None
    if len(text) > 200 or not _printable(text):
        raise ValidationError("The name is too long or contains control characters.", field="name")
    return text
