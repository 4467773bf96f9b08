"""The hub's SCIM 2.0 client for outbound provisioning (``scim2-client`` over ``httpx2``).

One :class:`ScimClient` per connected app and worker pass. Every call is retried on what
may go away by itself: a connection error, a timeout, an HTTP 5xx or 429 (``retries``
times, with exponential backoff). What is still failing then becomes a
:class:`DeliveryError` whose ``retryable`` says whether the outbox should try again later
(yes for those same causes) or give up until an admin acts (a 4xx: the app refused).
Messages name the app's URL without its query and never contain the token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import httpx2
from scim2_client import SCIMClientException
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_client.errors import RequestNetworkException, UnexpectedStatusCodeException
from scim2_models import Email, Group, ListResponse, Name, PatchOp, ScimProvider, SearchRequest, User
from scim2_models import SCIMException as ScimErrorAnswer

from .errors import PairingError
from .sources import member_operations, safe_url

T = TypeVar("T")
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class DeliveryError(PairingError):
    """A SCIM call failed. ``retryable``: the cause may go away (network, timeout, 5xx, 429)."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class Desired:
    """What the app should hold for one hub user."""

    login: str
    email: str
    name: str | None
    active: bool
    external_id: str


@dataclass
class RemoteGroup:
    """One of the app's groups: its SCIM id, ``displayName`` and member ids."""

    id: str
    name: str
    members: set[str]


class ScimClient:
    """Find, create and patch users, and change group members, in one app's SCIM directory,
    with retries."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float,
        retries: int = 2,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.where = safe_url(url)
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.http = httpx2.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            follow_redirects=False,
            transport=httpx2.HTTPTransport(retries=retries),  # connection attempts
            event_hooks={"response": [self._remember]},
        )
        self._last_status: int | None = None
        self.scim = SyncSCIMClient(self.http, provider=ScimProvider(models=[User, Group]))
        self._groups: list[RemoteGroup] | None = None

    def _remember(self, response: httpx2.Response) -> None:
        # scim2-client does not keep the status of an unexpected answer: remember it here.
        self._last_status = response.status_code

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ScimClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the calls ------------------------------------------------------------------------

    def get(self, remote_id: str) -> User[Any] | None:
        """The user with SCIM id ``remote_id``, or None when the app has none (404)."""
        try:
            found = self._call(lambda: self.scim.query(User, remote_id))
        except DeliveryError as err:
            if err.status == 404:
                return None
            raise
        return found if isinstance(found, User) else None

    def find(self, login: str) -> User[Any] | None:
        """The user whose ``userName`` is ``login`` (the app compares case-insensitively)."""
        quoted = login.replace("\\", "\\\\").replace('"', '\\"')
        found = self._call(
            lambda: self.scim.query(
                "User", query_parameters=SearchRequest.model_validate({"filter": f'userName eq "{quoted}"', "count": 2})
            )
        )
        if isinstance(found, ListResponse) and found.resources:
            first = found.resources[0]
            return first if isinstance(first, User) else None
        return None

    def create(self, desired: Desired) -> User[Any]:
        """``POST /Users``; returns the user as the app created it."""
        user: User[Any] = User(
            user_name=desired.login,
            emails=[Email(value=desired.email, primary=True)],
            active=desired.active,
            external_id=desired.external_id,
        )
        if desired.name:
            user.name = Name(formatted=desired.name)
            user.display_name = desired.name
        created = self._call(lambda: self.scim.create(user))
        if not isinstance(created, User):
            raise DeliveryError(f"The directory at {self.where} answered a creation without a user.", retryable=False)
        return created

    def patch(self, remote_id: str, desired: Desired, fields: tuple[str, ...]) -> None:
        """``PATCH /Users/{id}``: replace the given ``fields`` (login, email, name, active)."""
        operations: list[dict[str, Any]] = []
        for field in fields:
            if field == "login":
                operations.append({"op": "replace", "path": "userName", "value": desired.login})
            elif field == "email":
                emails = [{"value": desired.email, "primary": True}]
                operations.append({"op": "replace", "path": "emails", "value": emails})
            elif field == "name":
                operations.append({"op": "replace", "path": "name.formatted", "value": desired.name or ""})
                operations.append({"op": "replace", "path": "displayName", "value": desired.name or ""})
            elif field == "active":
                operations.append({"op": "replace", "path": "active", "value": desired.active})
        if not operations:
            return
        patch = PatchOp[User].model_validate(
            {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}
        )
        self._call(lambda: self.scim.modify(User, remote_id, patch))

    def groups(self) -> list[RemoteGroup]:
        """Every group of the app (``GET /Groups``, page by page), read once per client: a
        client lives for one worker pass, and :meth:`change_members` keeps the copy current.
        An app without ``/Groups`` (404) has none."""
        if self._groups is None:
            found: list[RemoteGroup] = []
            start, page = 1, 100
            while True:
                params: SearchRequest = SearchRequest.model_validate({"startIndex": start, "count": page})
                try:
                    answer = self._call(partial(self.scim.query, Group, query_parameters=params))
                except DeliveryError as err:
                    if err.status == 404:
                        break
                    raise
                resources = answer.resources or [] if isinstance(answer, ListResponse) else []
                for group in resources:
                    if isinstance(group, Group) and group.id and group.display_name:
                        members = {str(m.value) for m in group.members or [] if m.value and m.type in (None, "User")}
                        found.append(RemoteGroup(str(group.id), group.display_name, members))
                total = answer.total_results if isinstance(answer, ListResponse) else None
                start += len(resources)
                if not resources or total is None or start > total:
                    break
            self._groups = found
        return self._groups

    def change_members(self, group: RemoteGroup, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        """``PATCH /Groups/{id}`` (RFC 7644 section 3.5.2): ``add`` the ``members`` with these
        user ids, ``remove`` ``members[value eq "..."]`` for each of ``remove``."""
        operations = member_operations(add, remove)
        if not operations:
            return
        patch = PatchOp[Group].model_validate(
            {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}
        )
        self._call(lambda: self.scim.modify(Group, group.id, patch))
        group.members.update(add)
        group.members.difference_update(remove)

    # -- retries and error mapping -----------------------------------------------------------

    def _call(self, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except (SCIMClientException, ScimErrorAnswer, ValueError) as err:
                failure = self._failure(err)
            if not failure.retryable or attempt >= self.retries:
                raise failure
            self.sleep(self.backoff * (2**attempt))
            attempt += 1

    def _failure(self, err: Exception) -> DeliveryError:
        if isinstance(err, RequestNetworkException):
            cause = err.__cause__
            what = "did not answer in time" if isinstance(cause, httpx2.TimeoutException) else "could not be reached"
            return DeliveryError(f"The directory at {self.where} {what} ({type(cause).__name__}).", retryable=True)
        status = self._last_status if isinstance(err, UnexpectedStatusCodeException) else _status(err)
        if status is not None:
            retryable = status in _RETRY_STATUSES
            detail = _short(getattr(err, "detail", "") or str(err))
            return DeliveryError(
                f"The directory at {self.where} answered HTTP {status}: {detail}", retryable=retryable, status=status
            )
        return DeliveryError(f"The directory at {self.where} sent an answer that is not valid SCIM: {_short(str(err))}",
                             retryable=False)


def _status(err: Exception) -> int | None:
    if isinstance(err, ScimErrorAnswer):
        return int(err.status)
    return None


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fields_differ(remote: User[Any], desired: Desired) -> tuple[str, ...]:
    """Which of login, email, name, active the app holds differently from ``desired``."""
    changed: list[str] = []
    if remote.user_name != desired.login:
        changed.append("login")
    emails = remote.emails or []
    primary = next((e for e in emails if e.primary), emails[0] if emails else None)
    if primary is None or primary.value != desired.email:
        changed.append("email")
    name = (remote.name.formatted if remote.name else None) or remote.display_name
    if (name or None) != (desired.name or None):
        changed.append("name")
    if bool(remote.active if remote.active is not None else True) != desired.active:
        changed.append("active")
    return tuple(changed)


fields_differ = _fields_differ
