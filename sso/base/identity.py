"""How logins and e-mails are compared: trimmed, Unicode NFC, case-folded."""

from __future__ import annotations

import re
import unicodedata

from .errors import ValidationError

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalize_key(value: str) -> str:
    """The comparison key of a login or e-mail (``" Ann "`` and ``"ANN"`` agree)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value.strip()).casefold())


def _printable(value: str) -> bool:
    return not any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp", "Cs", "Co"} for ch in value)


def clean_login(value: object) -> str:
    """Check a login and return it trimmed (NFC). Raises ValidationError."""
    text = unicodedata.normalize("NFC", str(value or "").strip())
    if not text:
        raise ValidationError("The login is required.")
    if len(text) > 64:
        raise ValidationError("The login is longer than 64 characters.")
    if not _printable(text) or any(ch.isspace() for ch in text):
        raise ValidationError("The login must not contain spaces or control characters.")
    return text


def clean_email(value: object) -> str:
    """Check an e-mail address and return it trimmed (NFC). Raises ValidationError."""
    text = unicodedata.normalize("NFC", str(value or "").strip())
    if not text:
        raise ValidationError("The e-mail address is required.")
    if len(text) > 254 or not _EMAIL.fullmatch(text) or not _printable(text):
        raise ValidationError(f"{text[:80]!r} is not a valid e-mail address.")
    return text


def clean_name(value: object) -> str | None:
    """Check a display name; empty means none. Raises ValidationError."""
    text = unicodedata.normalize("NFC", str(value or "").strip())
    if not text:
        return None
    if len(text) > 200 or not _printable(text):
        raise ValidationError("The name is too long or contains control characters.")
    return text
