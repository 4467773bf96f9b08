"""The SCIM 2.0 subset this directory speaks, as pure functions (no Flask, no database).

Supported: list with ``startIndex``/``count`` paging, ``filter`` of the form
``userName eq "x"``, ``emails eq "x"`` or ``emails.value eq "x"``, get by id, create.
Errors come out as :class:`ScimError`, rendered in RFC 7644 section 3.12's JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
CONTENT_TYPE = "application/scim+json"
DEFAULT_COUNT = 100
MAX_COUNT = 1000
MAX_INT_DIGITS = 9

# attribute, "eq", a JSON string. Attribute names and operators are case-insensitive (RFC 7644 3.4.2.2).
_FILTER = re.compile(r'\s*(userName|emails|emails\.value)\s+eq\s+("(?:[^"\\]|\\.)*")\s*', re.IGNORECASE)


class ScimError(Exception):
    """A request SCIM refuses; ``status`` is the HTTP status, ``scim_type`` RFC 7644's keyword."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def to_json(self) -> dict[str, Any]:
        """The error body of RFC 7644 section 3.12."""
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


@dataclass(frozen=True, slots=True)
class Paging:
    """1-based ``start_index`` and page size ``count``."""

    start_index: int
    count: int

    @property
    def offset(self) -> int:
        return self.start_index - 1


@dataclass(frozen=True, slots=True)
class Filter:
    """``attribute`` is ``userName`` or ``email``; ``value`` as sent (compare it normalised)."""

    attribute: str
    value: str


@dataclass(frozen=True, slots=True)
class NewUser:
    """What a ``POST /Users`` asks to create."""

    login: str
    email: str
    name: str
    active: bool


def _integer(args: Mapping[str, str], name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not re.fullmatch(rf"[+-]?\d{{1,{MAX_INT_DIGITS}}}", text):
        raise ScimError(400, f"{name} must be an integer, not {raw[:40]!r}", "invalidValue")
    return int(text)


def parse_paging(args: Mapping[str, str]) -> Paging:
    """Read ``startIndex`` and ``count``. Not an integer: 400.

    As RFC 7644 3.4.2.4 says, a ``startIndex`` below 1 means 1 and a negative ``count``
    means 0. ``count`` is capped at :data:`MAX_COUNT`.
    """
    start = max(1, _integer(args, "startIndex", 1))
    count = min(MAX_COUNT, max(0, _integer(args, "count", DEFAULT_COUNT)))
    return Paging(start_index=start, count=count)


def parse_filter(text: str | None) -> Filter | None:
    """Read a ``filter`` parameter; ``None`` when absent. Anything unsupported: 400 ``invalidFilter``."""
    if text is None or not text.strip():
        return None
    match = _FILTER.fullmatch(text) if len(text) <= 600 else None
    if match is None:
        raise ScimError(
            400,
            'Only filters of the form userName eq "x", emails eq "x" or emails.value eq "x" are supported',
            "invalidFilter",
        )
    try:
        value = json.loads(match.group(2))
    except ValueError as err:
        raise ScimError(400, "The filter's value is not a valid string", "invalidFilter") from err
    attribute = "userName" if match.group(1).lower() == "username" else "email"
    return Filter(attribute=attribute, value=value)


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScimError(400, f"{field} is required and must be a non-empty string", "invalidValue")
    value = value.strip()
    if len(value) > limit or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ScimError(400, f"{field} is too long or holds control characters", "invalidValue")
    return value


def parse_new_user(body: object) -> NewUser:
    """Validate a ``POST /Users`` body; 400 ``invalidValue`` on anything unusable.

    The e-mail is the ``primary`` one in ``emails``, else the first. The name is
    ``name.formatted``, else ``displayName``, else the login.
    """
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a JSON object", "invalidValue")
    login = _text(body.get("userName"), "userName", 150)
    emails = body.get("emails")
    if not isinstance(emails, list) or not emails or not all(isinstance(e, dict) for e in emails):
        raise ScimError(400, "emails must be a non-empty list of {value, primary}", "invalidValue")
    chosen = next((e for e in emails if e.get("primary") is True), emails[0])
    email = _text(chosen.get("value"), "emails.value", 254)
    if "@" not in email.strip("@") or any(ch.isspace() for ch in email):
        raise ScimError(400, "emails.value must be an e-mail address", "invalidValue")
    name_obj = body.get("name")
    formatted = name_obj.get("formatted") if isinstance(name_obj, dict) else None
    raw_name = formatted if isinstance(formatted, str) and formatted.strip() else body.get("displayName")
    name = _text(raw_name, "name.formatted", 200) if isinstance(raw_name, str) and raw_name.strip() else login
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise ScimError(400, "active must be true or false", "invalidValue")
    return NewUser(login=login, email=email, name=name, active=active)


def user_resource(
    *, id: int, login: str, email: str, name: str, active: bool, created: datetime, location: str
) -> dict[str, Any]:
    """A SCIM User resource (RFC 7643 section 4.1)."""
    return {
        "schemas": [USER_SCHEMA],
        "id": str(id),
        "userName": login,
        "name": {"formatted": name},
        "displayName": name,
        "emails": [{"value": email, "primary": True}],
        "active": active,
        "meta": {"resourceType": "User", "created": created.isoformat(), "location": location},
    }


def list_response(resources: list[dict[str, Any]], total: int, start_index: int) -> dict[str, Any]:
    """A ListResponse (RFC 7644 section 3.4.2)."""
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
