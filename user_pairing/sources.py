"""Where an app's users come from: SCIM 2.0, a paged JSON list, or an uploaded CSV file.

Every source has the same small interface (:class:`DirectorySource`) with capability flags,
and every failure surfaces as a :class:`~user_pairing.errors.SourceError` whose ``kind`` and
message tell an admin what to check. Messages never contain the token or a query string.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from .errors import ConfigError, SourceError
from .matching import DirectoryUser

SourceKind = Literal["scim", "json", "csv"]
SOURCE_KINDS: tuple[SourceKind, ...] = ("scim", "json", "csv")

DEFAULT_TIMEOUT = 10.0
SCIM_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_PAGES = 10_000
MAX_USERS = 2_000_000


def member_operations(add: Sequence[str], remove: Sequence[str]) -> list[dict[str, Any]]:
    """The ``Operations`` of a Group PATCH (RFC 7644 section 3.5.2) that adds the ``members``
    with the user ids ``add`` and removes ``members[value eq "..."]`` for each of ``remove``."""
    operations: list[dict[str, Any]] = []
    if add:
        operations.append({"op": "add", "path": "members", "value": [{"value": ref} for ref in add]})
    for ref in remove:
        operations.append({"op": "remove", "path": f"members[value eq {json.dumps(ref)}]"})
    return operations


@dataclass(frozen=True)
class DirectoryGroup:
    """One group of an app (a department): its id in the app, its name, and the ``ref`` (the
    app's user id) of each user member."""

    ref: str
    name: str
    members: tuple[str, ...] = ()


class DirectorySource(Protocol):
    """The interface every directory implements (sources subclass it for the defaults).

    ``can_provision``: :meth:`provision` creates accounts. ``needs_upload``: the data comes
    from a file the admin uploads rather than from a URL.
    """

    can_provision: ClassVar[bool] = False
    needs_upload: ClassVar[bool] = False

    def fetch(self) -> list[DirectoryUser]:
        """Every user of the directory. Raises :class:`SourceError`."""
        raise NotImplementedError

    def provision(self, user: DirectoryUser) -> DirectoryUser:
        """Create ``user`` in the directory and return it as created. Raises :class:`SourceError`."""
        raise SourceError("unsupported", f"This directory ({type(self).__name__}) cannot create users.")

    def fetch_groups(self) -> list[DirectoryGroup] | None:
        """Every group with its members, or None when the directory has no groups to offer."""
        return None

    def change_members(self, group_ref: str, *, add: list[str], remove: list[str]) -> None:
        """Add and remove users (by ``ref``) in the group ``group_ref``. Raises :class:`SourceError`."""
        raise SourceError("unsupported", f"This directory ({type(self).__name__}) cannot change groups.")


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment: fit for a message or a log line."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# -- HTTP plumbing shared by the URL sources ------------------------------------------------------


class _Http:
    """One httpx client for one fetch, mapping every failure to a :class:`SourceError`."""

    def __init__(self, base_url: str, timeout: float, headers: dict[str, str]) -> None:
        self.where = safe_url(base_url)
        self.timeout = timeout
        self.client = httpx.Client(timeout=timeout, headers=headers, follow_redirects=False)

    def __enter__(self) -> _Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def request_json(self, method: str, url: str, *, allow_empty: bool = False, **kwargs: Any) -> tuple[int, Any]:
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TimeoutException as err:
            raise SourceError(
                "timeout", f"The directory at {self.where} did not answer within {self.timeout:g} s."
            ) from err
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as err:
            raise SourceError("unreachable", f"The directory URL {self.where} is not a valid http(s) URL.") from err
        except httpx.HTTPError as err:
            raise SourceError(
                "unreachable",
                f"Could not connect to the directory at {self.where} ({type(err).__name__}); "
                "check the URL and that the app is running.",
            ) from err
        status = response.status_code
        if status in (401, 403):
            raise SourceError(
                "unauthorized",
                f"The directory at {self.where} refused the token (HTTP {status}); "
                "check the token and its permissions.",
            )
        if status == 404:
            raise SourceError("not_found", f"Nothing found at {self.where} (HTTP 404); check the URL.")
        if status == 409:
            raise SourceError("conflict", f"The directory at {self.where} says the user already exists (HTTP 409).")
        if status >= 500:
            raise SourceError(
                "server_error", f"The directory at {self.where} failed (HTTP {status}); try again later."
            )
        if status >= 400 or status < 200 or 300 <= status < 400:
            raise SourceError("rejected", f"The directory at {self.where} answered HTTP {status}.")
        if allow_empty and (status == 204 or not response.content):
            return status, None
        try:
            return status, response.json()
        except RecursionError as err:
            raise SourceError(
                "malformed", f"The directory at {self.where} sent JSON nested too deeply to read."
            ) from err
        except ValueError as err:  # not JSON, not UTF-8, or a number too long to read
            raise SourceError(
                "malformed",
                f"The directory at {self.where} did not answer with JSON (HTTP {status}), or with JSON that cannot"
                " be read.",
            ) from err


def _text(value: object, what: str, where: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise SourceError("malformed", f"The directory at {where} sent a user whose {what} is not text.")
    return _unicode(value, what, where)


def _unicode(value: str, what: str, where: str) -> str:
    """``value`` if it is valid Unicode: JSON's ``\\ud800`` escapes can carry lone surrogates,
    which no page, database or export can encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise SourceError(
            "malformed", f"The directory at {where} sent a user whose {what} is not valid Unicode (a lone surrogate)."
        ) from err
    return value


def _ref(value: object, where: str) -> str | None:
    """A user's id in the directory: text or a whole number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise SourceError("malformed", f"The directory at {where} sent a user whose id is not text or a number.")
    return _unicode(str(value), "id", where)


# -- SCIM 2.0 --------------------------------------------------------------------------------------


@dataclass
class ScimSource(DirectorySource):
    """A SCIM 2.0 ``/Users`` endpoint (RFC 7644), read page by page with a bearer token."""

    url: str
    token: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    page_size: int = 500
    max_pages: int = MAX_PAGES
    #: Called after each page with (users read so far, users announced), for a progress bar.
    progress: Callable[[int, int | None], None] | None = field(default=None, repr=False, compare=False)

    can_provision: ClassVar[bool] = True

    @property
    def users_url(self) -> str:
        return self.url.rstrip("/") + "/Users"

    @property
    def groups_url(self) -> str:
        return self.url.rstrip("/") + "/Groups"

    def _http(self) -> _Http:
        return _Http(
            self.url,
            self.timeout,
            {"Authorization": f"Bearer {self.token}", "Accept": "application/scim+json, application/json"},
        )

    def fetch(self) -> list[DirectoryUser]:
        """Every user, following ``startIndex`` until ``totalResults`` is reached."""
        users: list[DirectoryUser] = []
        with self._http() as http:
            for page, total in self._pages(http):
                users.extend(_scim_user(resource, http.where) for resource in page)
                if self.progress is not None:
                    self.progress(len(users), total)
        return users

    def _pages(self, http: _Http, url: str | None = None) -> Iterator[tuple[list[Any], int]]:
        start, total, seen_first_ids = 1, None, set()
        for _ in range(self.max_pages):
            _, body = http.request_json(
                "GET", url or self.users_url, params={"startIndex": start, "count": self.page_size}
            )
            if not isinstance(body, dict):
                raise SourceError("malformed", f"The directory at {http.where} did not send a SCIM list response.")
            page_total = body.get("totalResults")
            resources = body.get("Resources", [])
            if not isinstance(page_total, int) or isinstance(page_total, bool) or page_total < 0:
                raise SourceError("malformed", f"The directory at {http.where} sent no valid totalResults.")
            if not isinstance(resources, list):
                raise SourceError("malformed", f"The directory at {http.where} sent Resources that is not a list.")
            if page_total > MAX_USERS:
                raise SourceError("too_large", f"The directory at {http.where} announces {page_total} users; too many.")
            total = page_total if total is None else total
            if start > total:
                return
            if not resources:
                raise SourceError(
                    "missing_page",
                    f"The directory at {http.where} sent an empty page at startIndex={start} although it "
                    f"announced {total} users; the list is incomplete, try again later.",
                )
            first = resources[0].get("id") if isinstance(resources[0], dict) else None
            first = _ref(first, http.where)
            if first is not None:
                if first in seen_first_ids:
                    raise SourceError(
                        "malformed",
                        f"The directory at {http.where} sent the same page twice; it seems to ignore startIndex.",
                    )
                seen_first_ids.add(first)
            yield resources, total
            start += len(resources)
            if start > total:
                return
        raise SourceError("too_large", f"The directory at {http.where} needs more than {self.max_pages} pages.")

    def provision(self, user: DirectoryUser) -> DirectoryUser:
        """``POST /Users`` and return the user as the app created it (with its ``id`` as ``ref``)."""
        payload: dict[str, Any] = {
            "schemas": [SCIM_USER_SCHEMA],
            "userName": user.login,
            "emails": [{"value": user.email, "primary": True}],
            "active": user.active,
        }
        if user.name:
            payload["name"] = {"formatted": user.name}
            payload["displayName"] = user.name
        with self._http() as http:
            _, body = http.request_json(
                "POST", self.users_url, json=payload, headers={"Content-Type": "application/scim+json"}
            )
            return _scim_user(body, http.where)


    def fetch_groups(self) -> list[DirectoryGroup] | None:
        """``GET /Groups`` (RFC 7643 section 4.2) page by page: each group's ``id``,
        ``displayName`` and user ``members``. None when the app has no ``/Groups`` (HTTP 404)."""
        groups: list[DirectoryGroup] = []
        with self._http() as http:
            try:
                for page, _total in self._pages(http, self.groups_url):
                    groups.extend(_scim_group(resource, http.where) for resource in page)
            except SourceError as err:
                if err.kind == "not_found":
                    return None
                raise
        return groups

    def change_members(self, group_ref: str, *, add: list[str], remove: list[str]) -> None:
        """One ``PATCH /Groups/{id}`` (RFC 7644 section 3.5.2): add ``members``, and remove
        ``members[value eq "..."]`` for each user to take out."""
        operations = member_operations(add, remove)
        if not operations:
            return
        url = f"{self.groups_url}/{quote(group_ref, safe='')}"
        with self._http() as http:
            http.request_json(
                "PATCH", url, json={"schemas": [SCIM_PATCH_SCHEMA], "Operations": operations},
                headers={"Content-Type": "application/scim+json"}, allow_empty=True,
            )


def _scim_group(resource: object, where: str) -> DirectoryGroup:
    if not isinstance(resource, dict):
        raise SourceError("malformed", f"The directory at {where} sent a group that is not a JSON object.")
    ref, name = resource.get("id"), resource.get("displayName")
    if not isinstance(ref, str) or not isinstance(name, str):
        raise SourceError("malformed", f"The directory at {where} sent a group without a text id and displayName.")
    members = resource.get("members") or []
    if not isinstance(members, list):
        raise SourceError("malformed", f"The directory at {where} sent group members that are not a list.")
    refs = tuple(
        str(m["value"]) for m in members
        if isinstance(m, dict) and m.get("value") is not None and m.get("type", "User") == "User"
    )
    return DirectoryGroup(ref, name, refs)


def _scim_user(resource: object, where: str) -> DirectoryUser:
    if not isinstance(resource, dict):
        raise SourceError("malformed", f"The directory at {where} sent a user that is not a JSON object.")
    login = _text(resource.get("userName"), "userName", where)
    emails = resource.get("emails") or []
    if not isinstance(emails, list) or not all(isinstance(e, dict) for e in emails):
        raise SourceError("malformed", f"The directory at {where} sent emails that are not a list of objects.")
    chosen = next((e for e in emails if e.get("primary") is True), emails[0] if emails else {})
    email = _text(chosen.get("value"), "e-mail", where, required=False)
    name_obj = resource.get("name")
    name = name_obj.get("formatted") if isinstance(name_obj, dict) else None
    name = name or resource.get("displayName")
    return _directory_user(login, email, name, resource.get("active", True), resource.get("id"), where)


def _directory_user(login: str, email: str, name: object, active: object, ref: object, where: str) -> DirectoryUser:
    """A DirectoryUser from loosely typed source fields (non-text names dropped, active by default).

    Raises :class:`SourceError` for an id that is neither text nor a number, or any text
    that is not valid Unicode."""
    return DirectoryUser(
        login=login,
        email=email,
        name=_unicode(name, "name", where) if isinstance(name, str) else None,
        active=active if isinstance(active, bool) else True,
        ref=_ref(ref, where),
    )


# -- JSON list (invoicing-style API) ----------------------------------------------------------------


@dataclass
class JsonListSource(DirectorySource):
    """``GET {url}?api_token=..&page=N`` returning a JSON array of users, until an empty page."""

    url: str
    token: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_pages: int = MAX_PAGES
    progress: Callable[[int, int | None], None] | None = field(default=None, repr=False, compare=False)

    def fetch(self) -> list[DirectoryUser]:
        """Every user, page 1, 2, ... until a page comes back empty."""
        users: list[DirectoryUser] = []
        previous: list[Any] | None = None
        with _Http(self.url, self.timeout, {"Accept": "application/json"}) as http:
            for page in range(1, self.max_pages + 1):
                _, body = http.request_json("GET", self.url, params={"api_token": self.token, "page": page})
                if not isinstance(body, list):
                    raise SourceError("malformed", f"The directory at {http.where} did not send a JSON array.")
                if not body:
                    return users
                if body == previous:
                    raise SourceError(
                        "malformed", f"The directory at {http.where} sent the same page twice; it seems to ignore page."
                    )
                previous = body
                users.extend(_json_user(item, http.where) for item in body)
                if self.progress is not None:
                    self.progress(len(users), None)
                if len(users) > MAX_USERS:
                    raise SourceError("too_large", f"The directory at {http.where} holds more than {MAX_USERS} users.")
        raise SourceError("too_large", f"The directory at {safe_url(self.url)} needs more than {self.max_pages} pages.")


def _json_user(item: object, where: str) -> DirectoryUser:
    if not isinstance(item, dict):
        raise SourceError("malformed", f"The directory at {where} sent a user that is not a JSON object.")
    login = _text(item.get("login"), "login", where)
    email = _text(item.get("email"), "e-mail", where, required=False)
    name = item.get("name")
    if not name:
        parts = [item.get("first_name"), item.get("last_name")]
        name = " ".join(p for p in parts if isinstance(p, str) and p) or None
    return _directory_user(login, email, name, item.get("active", True), item.get("id"), where)


# -- CSV upload -----------------------------------------------------------------------------------


class CsvSource(DirectorySource):
    """An uploaded CSV file with the header ``login,email,name`` (UTF-8, a BOM is fine)."""

    needs_upload: ClassVar[bool] = True
    REQUIRED: ClassVar[tuple[str, ...]] = ("login", "email")

    def __init__(self, data: str | bytes) -> None:
        self.data = data

    def _text(self) -> str:
        data = self.data
        if isinstance(data, bytes):
            raw = data
            try:
                data = raw.decode("utf-8-sig")
            except UnicodeDecodeError as err:
                line = raw[: err.start].count(b"\n") + 1
                raise SourceError(
                    "malformed", f"Line {line} of the CSV file is not UTF-8; save the file as UTF-8."
                ) from err
        return data.removeprefix("\ufeff")

    def fetch(self) -> list[DirectoryUser]:
        """The users of the file, or a :class:`SourceError` naming the first bad line."""
        reader = csv.reader(io.StringIO(self._text(), newline=""), strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise SourceError("malformed", "The CSV file is empty; it needs the header line login,email,name.")
            columns = [h.strip().lower() for h in header]
            missing = [c for c in self.REQUIRED if c not in columns]
            if missing:
                raise SourceError(
                    "malformed",
                    f"Line 1 of the CSV file must be the header login,email,name; {', '.join(missing)} is missing.",
                )
            at: dict[str, int] = {
                name: columns.index(name) for name in ("login", "email", "name", "active") if name in columns
            }
            users = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                users.append(self._user(row, at, len(columns), reader.line_num))
            return users
        except csv.Error as err:
            raise SourceError("malformed", f"Line {reader.line_num} of the CSV file cannot be read: {err}.") from err

    @staticmethod
    def _user(row: list[str], at: dict[str, int], width: int, line: int) -> DirectoryUser:
        if len(row) != width:
            raise SourceError(
                "malformed", f"Line {line} of the CSV file has {len(row)} fields; the header has {width}."
            )
        login = row[at["login"]]
        if not login.strip():
            raise SourceError("malformed", f"Line {line} of the CSV file has an empty login.")
        active = row[at["active"]].strip().lower() not in {"0", "false", "no", "inactive"} if "active" in at else True
        name = row[at["name"]] if "name" in at else None
        return DirectoryUser(login=login, email=row[at["email"]], name=name or None, active=active, ref=f"line {line}")


# -- configuration ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryConfig:
    """How one app's directory is reached. :meth:`validate` says what is wrong, if anything."""

    kind: SourceKind
    url: str | None = None
    token: str | None = field(default=None, repr=False)

    def validate(self) -> DirectoryConfig:
        """Return ``self`` when usable, else raise :class:`ConfigError` with what to set."""
        if self.kind not in SOURCE_KINDS:
            raise ConfigError(
                f"Unknown directory type {self.kind!r}; use one of: {', '.join(SOURCE_KINDS)}.", field="kind"
            )
        if self.kind == "csv":
            return self
        url = (self.url or "").strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"A {self.kind} directory needs an http:// or https:// URL with a host name.", field="url"
            )
        if parts.username or parts.password:
            raise ConfigError("Do not put a user name or password in the directory URL; use the token.", field="url")
        if self.kind == "json" and parts.query:
            raise ConfigError(
                "Give the JSON list URL without a query string; the token and page are added.", field="url"
            )
        if not self.token or not self.token.strip():
            raise ConfigError(f"A {self.kind} directory needs a token.", field="token")
        if any(c in self.token for c in "\r\n\0"):
            raise ConfigError("The token must be a single line.", field="token")
        return self

    def build(self, *, data: str | bytes | None = None, timeout: float = DEFAULT_TIMEOUT) -> DirectorySource:
        """The source this configuration describes; ``data`` is the uploaded file for ``csv``."""
        self.validate()
        if self.kind == "csv":
            if data is None:
                raise ConfigError("A CSV directory needs an uploaded file.")
            return CsvSource(data)
        assert self.url is not None and self.token is not None
        factory: Callable[..., DirectorySource] = ScimSource if self.kind == "scim" else JsonListSource
        return factory(self.url.strip(), self.token.strip(), timeout=timeout)


def build_source(
    kind: str, url: str | None, token: str | None, *, data: str | bytes | None = None, timeout: float = DEFAULT_TIMEOUT
) -> DirectorySource:
    """Validate a configuration and build its source; raises :class:`ConfigError`."""
    return DirectoryConfig(kind, url, token).build(data=data, timeout=timeout)  # type: ignore[arg-type]
