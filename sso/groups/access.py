"""Which users may open which connected app: everyone (the default) or chosen groups.

Consulted by the top menu (:func:`visible_apps`), the sign-on flows and any other protocol
(:func:`may_open`, :func:`require_access`). An app is anything with an ``id`` and a
``name`` (a ``ConnectedApp`` or the flows' ``IssuingApp``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy import delete, select

from sso.accounts.models import User
from sso.audit import record
from sso.base.db import db, transaction
from sso.base.errors import Forbidden, NotFound
from sso.connected_apps.models import ConnectedApp

from .cache import forget_policies, groups_of, policies
from .models import AppAccess, AppAccessGroup, Group
from .service import group_key


class AppLike(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def slug(self) -> str: ...


A = TypeVar("A", bound=AppLike)


class AccessDenied(Forbidden):
    """The user is in none of the groups the app is restricted to."""

    title = "Access denied"

    def __init__(self, app_name: str) -> None:
        super().__init__(f"You don't have access to {app_name}. Ask your administrator.")


def may_open(user: User, app: AppLike) -> bool:
    """True when ``app`` is open to everyone, or ``user`` is in one of its groups.

    Reads the cached policies (:func:`.cache.policies`) and the user's groups (one query
    per request, shared with the ``groups`` claim): an open app costs no query at all.
    """
    allowed = policies().get(app.id)
    if allowed is None:
        return True
    return any(gid in allowed for gid, _name in groups_of(user.id))


def require_access(user: User, app: AppLike, *, flow: str) -> None:
    """Raise :class:`AccessDenied` (a 403 page) unless :func:`may_open`; a refusal is
    recorded as ``access_denied`` with the ``flow`` (``jump``, ``service``, ``oidc``...)."""
    if may_open(user, app):
        return
    record("access_denied", user=user, app=app.slug, detail={"flow": flow, "login": user.login})
    raise AccessDenied(app.name)


def visible_apps(user: User, apps: Sequence[A]) -> list[A]:
    """The ``apps`` that ``user`` may open, in the given order."""
    rules = policies()
    if not any(a.id in rules for a in apps):
        return list(apps)
    mine = {gid for gid, _name in groups_of(user.id)}
    return [a for a in apps if a.id not in rules or not mine.isdisjoint(rules[a.id])]


@dataclass(frozen=True)
class AccessPolicy:
    """Who may open an app: ``groups`` is None for everyone, else the allowed group names."""

    groups: list[str] | None

    @property
    def everyone(self) -> bool:
        return self.groups is None


def access_policy(app: AppLike) -> AccessPolicy:
    """The current :class:`AccessPolicy` of ``app``."""
    if db.session.get(AppAccess, app.id) is None:
        return AccessPolicy(None)
    names = db.session.scalars(
        select(Group.name).join(AppAccessGroup, AppAccessGroup.group_id == Group.id)
        .where(AppAccessGroup.app_id == app.id).order_by(Group.name_key)
    )
    return AccessPolicy(list(names))


def set_app_access(app: ConnectedApp, groups: Iterable[str] | None, *, actor: str | None = None) -> bool:
    """Open ``app`` to everyone (``groups`` None) or restrict it to the named groups.

    An empty list restricts it to nobody. Recorded as ``app_access_changed``; one commit.
    Returns False when nothing changed. Raises NotFound for an unknown group name.
    """
    before = access_policy(app)
    try:
        with transaction():
            changed = _set_access(app, before, groups, actor)
    finally:
        forget_policies()  # after the commit: this worker follows at once
    return changed


def _set_access(app: ConnectedApp, before: AccessPolicy, groups: Iterable[str] | None, actor: str | None) -> bool:
    if groups is None:
        if before.everyone:
            return False
        db.session.execute(delete(AppAccessGroup).where(AppAccessGroup.app_id == app.id))
        db.session.execute(delete(AppAccess).where(AppAccess.app_id == app.id))
        record("app_access_changed", app=app, actor=actor, detail={"from": _describe(before), "to": "everyone"})
        return True
    keys = {group_key(n): n for n in groups}
    found = {g.name_key: g for g in db.session.scalars(select(Group).where(Group.name_key.in_(list(keys))))}
    missing = [keys[k] for k in keys if k not in found]
    if missing:
        raise NotFound(f"No group named {missing[0][:80]!r}.")
    if not before.everyone and [group_key(n) for n in before.groups or []] == sorted(found):
        return False
    after = AccessPolicy(sorted((g.name for g in found.values()), key=group_key))
    if db.session.get(AppAccess, app.id) is None:
        db.session.add(AppAccess(app_id=app.id))
        db.session.flush()
    db.session.execute(delete(AppAccessGroup).where(AppAccessGroup.app_id == app.id))
    for group in found.values():
        db.session.add(AppAccessGroup(app_id=app.id, group_id=group.id))
    record("app_access_changed", app=app, actor=actor, detail={"from": _describe(before), "to": _describe(after)})
    return True


def _describe(policy: AccessPolicy) -> str:
    if policy.groups is None:
        return "everyone"
    return "groups: " + (", ".join(policy.groups) if policy.groups else "(none)")



def apps_limited_to(group: Group) -> list[str]:
    """The names of the apps whose allowed groups include ``group``."""
    return list(db.session.scalars(
        select(ConnectedApp.name).join(AppAccessGroup, AppAccessGroup.app_id == ConnectedApp.id)
        .where(AppAccessGroup.group_id == group.id).order_by(ConnectedApp.name)
    ))
