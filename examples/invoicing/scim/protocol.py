"""What this SCIM 2.0 server (RFC 7643/7644) publishes and accepts: no Flask, no database.

The models, schemas, patch rules and filter grammar are `scim2-models`' (the library the
conformance tester uses too); nothing here re-types a schema. The server keeps a subset
of the core ``User`` and ``Group`` schemas, the attributes the app stores, and publishes
exactly that subset at ``/Schemas``, so a client (or the tester) knows what round-trips:

- ``User``: ``userName`` (required, unique), ``displayName``, ``active``, ``emails`` (one
  value; the app keeps one e-mail per account) and ``groups`` (read-only: the departments).
- ``Group`` (a department): ``displayName`` (required, unique) and ``members`` (users).

Attributes of the standard schemas the app does not keep are accepted and ignored, as
RFC 7644 section 3.3 allows. Errors are :class:`ScimError`, RFC 7644 section 3.12's JSON.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scim2_models import (
    URN,
    Group,
    Required,
    Resource,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Uniqueness,
    User,
)

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
CONTENT_TYPE = "application/scim+json"
DEFAULT_COUNT = 100
MAX_COUNT = 1000
MAX_INT_DIGITS = 9
MAX_FILTER = 1000

#: Attribute -> the sub-attributes kept (None: a simple attribute).
USER_ATTRIBUTES: dict[str, tuple[str, ...] | None] = {
    "userName": None,
    "displayName": None,
    "active": None,
    "emails": ("value",),
    "groups": ("value", "$ref", "display"),
}
GROUP_ATTRIBUTES: dict[str, tuple[str, ...] | None] = {
    "displayName": None,
    "members": ("value", "$ref", "type"),
}


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


def _kept_schema(model: type[Resource[Any]], kept: Mapping[str, tuple[str, ...] | None]) -> Schema:
    schema = model.to_schema()
    schema.attributes = [attribute for attribute in schema.attributes or [] if attribute.name in kept]
    for attribute in schema.attributes:
        sub_names = kept[attribute.name or ""]
        if sub_names is not None:
            attribute.sub_attributes = [s for s in attribute.sub_attributes or [] if s.name in sub_names]
        if model is Group and attribute.name == "displayName":
            attribute.uniqueness = Uniqueness.server  # a department's name names one department
            attribute.required = Required.true
    return schema


def schemas() -> list[Schema]:
    """Everything ``/Schemas`` lists: the kept User and Group, and the discovery schemas."""
    return [
        _kept_schema(User, USER_ATTRIBUTES),
        _kept_schema(Group, GROUP_ATTRIBUTES),
        ServiceProviderConfig.to_schema(),
        ResourceType.to_schema(),
        Schema.to_schema(),
    ]


def resource_types() -> list[ResourceType]:
    """``/ResourceTypes``: Users and Groups (departments)."""
    return [ResourceType.from_resource(User), ResourceType.from_resource(Group)]


def service_provider_config(documentation: str | None = None) -> ServiceProviderConfig:
    """What the server supports: PATCH and filters; no bulk, sorting, ETags or password changes."""
    return ServiceProviderConfig.model_validate(
        {
            "documentationUri": documentation,
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": MAX_COUNT},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": False},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "Bearer token",
                    "description": "The token set in INVOICING_SCIM_TOKEN, sent as Authorization: Bearer <token>",
                    "primary": True,
                }
            ],
        }
    )


def schema_id(model: type[Resource[Any]]) -> URN:
    """The core schema URN of ``model``."""
    return model.__schema__  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Paging:
    """1-based ``start_index`` and page size ``count``."""

    start_index: int
    count: int

    @property
    def offset(self) -> int:
        return self.start_index - 1


def _integer(args: Mapping[str, Any], name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    text = raw.strip() if isinstance(raw, str) else ""
    if not re.fullmatch(rf"[+-]?\d{{1,{MAX_INT_DIGITS}}}", text):
        raise ScimError(400, f"{name} must be an integer", "invalidValue")
    return int(text)


def parse_paging(args: Mapping[str, Any]) -> Paging:
    """Read ``startIndex`` and ``count``. Not an integer: 400.

    As RFC 7644 3.4.2.4 says, a ``startIndex`` below 1 means 1 and a negative ``count``
    means 0. ``count`` is capped at :data:`MAX_COUNT`.
    """
    start = max(1, _integer(args, "startIndex", 1))
    count = min(MAX_COUNT, max(0, _integer(args, "count", DEFAULT_COUNT)))
    return Paging(start_index=start, count=count)


def parse_attribute_list(value: object, name: str) -> list[str] | None:
    """``attributes``/``excludedAttributes``: comma-separated in a URL, a list in a search body."""
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ScimError(400, f"{name} must be a list of attribute names", "invalidValue")
    names = [item.strip() for item in items if item.strip()]
    for item in names:
        if not is_clean_text(item) or len(item) > 200:
            raise ScimError(400, f"{name} holds an unusable attribute name", "invalidValue")
    return names or None


def is_clean_text(value: str) -> bool:
    """No lone surrogate (not encodable in UTF-8) and no NUL: text a database can store."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_clean(value: object, depth: int = 0) -> None:
    """Refuse (400) a JSON value holding text a database cannot store, or nested absurdly deep."""
    if depth > 32:
        raise ScimError(400, "The body is nested too deeply", "invalidSyntax")
    if isinstance(value, str):
        if not is_clean_text(value):
            raise ScimError(400, "The body holds a NUL character or an unpaired surrogate", "invalidValue")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_clean(key, depth + 1)
            check_clean(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_clean(item, depth + 1)


def clean_text(value: object, field: str, limit: int, *, required: bool = False) -> str | None:
    """A trimmed string without control characters, or None when absent and not required."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ScimError(400, f"{field} is required", "invalidValue")
        return None
    if not isinstance(value, str):
        raise ScimError(400, f"{field} must be a string", "invalidValue")
    value = value.strip()
    if len(value) > limit or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value) or not is_clean_text(value):
        raise ScimError(400, f"{field} is too long or holds control characters", "invalidValue")
    return value


def list_response(resources: list[dict[str, Any]], total: int, start_index: int) -> dict[str, Any]:
    """A ListResponse (RFC 7644 section 3.4.2)."""
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
