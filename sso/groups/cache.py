"""What the sign-on hot path reads of groups, kept cheap.

* Which apps are restricted, and to which group ids: read once and kept per worker process
  for ``APP_CACHE_TTL`` seconds by the app's clock (``SSO_APP_CACHE_TTL``: default 2, never
  more than 2, 0 turns it off), like the issuing apps of :mod:`sso.connected_apps.service`.
  A change made through this process (:func:`forget_policies`, called by the use cases)
  counts at once; other workers and hub instances follow within the TTL.
* A user's groups: kept per worker process for the same TTL (every jump needs them, for the
  access check and the ``groups`` claim), and in ``flask.g`` for the rest of the request. A
  change of membership made through this process (:func:`forget_memberships`) counts at once;
  other workers and hub instances follow within the TTL, as for the policies.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from cachetools import LRUCache
from flask import current_app, g, has_app_context
from sqlalchemy import select

from sso.base import context
from sso.base.db import db

from .models import AppAccess, AppAccessGroup, Group, GroupMember

_KEY = "groups.policies"  # in the hub state's features
_G_KEY = "sso_groups_of"
MAX_TTL = 2.0


@dataclass
class _Policies:
    lock: threading.Lock = field(default_factory=threading.Lock)
    generation: int = 0
    loaded: tuple[int, float, dict[int, frozenset[int]]] | None = None  # (generation, expires, map)
    member_generation: int = 0
    # user id -> (member generation, expires, the user's (group id, name) pairs)
    members: LRUCache[int, tuple[int, float, tuple[tuple[int, str], ...]]] = field(
        default_factory=lambda: LRUCache(10_000)
    )


def _state() -> _Policies:
    features = context.hub_state().features
    state: _Policies | None = features.get(_KEY)
    if state is None:
        state = features.setdefault(_KEY, _Policies())
    return state


def _load() -> dict[int, frozenset[int]]:
    restricted: dict[int, set[int]] = {app_id: set() for app_id in db.session.scalars(select(AppAccess.app_id))}
    for app_id, group_id in db.session.execute(select(AppAccessGroup.app_id, AppAccessGroup.group_id)):
        restricted.setdefault(app_id, set()).add(group_id)
    return {app_id: frozenset(ids) for app_id, ids in restricted.items()}


def policies() -> dict[int, frozenset[int]]:
    """Restricted app id -> the ids of its allowed groups (an app absent is open to everyone)."""
    ttl = min(float(current_app.config["APP_CACHE_TTL"]), MAX_TTL)
    if ttl <= 0:
        return _load()
    state = _state()
    now = context.clock().time()
    with state.lock:
        loaded, generation = state.loaded, state.generation
    if loaded is not None and loaded[0] == generation and now < loaded[1]:
        return loaded[2]
    fresh = _load()
    with state.lock:
        state.loaded = (generation, now + ttl, fresh)
    return fresh


def forget_policies() -> None:
    """Drop this process's cached policies (after a change of access or a deleted group)."""
    state = _state()
    with state.lock:
        state.generation += 1
        state.loaded = None


def groups_of(user_id: int) -> tuple[tuple[int, str], ...]:
    """``(group id, name)`` of each group of the user, sorted by normalised name."""
    cache: dict[int, tuple[tuple[int, str], ...]] | None = g.get(_G_KEY) if has_app_context() else None
    if cache is not None and user_id in cache:
        return cache[user_id]
    ttl = min(float(current_app.config["APP_CACHE_TTL"]), MAX_TTL)
    state = _state()
    now = context.clock().time()
    with state.lock:
        generation = state.member_generation
        kept = state.members.get(user_id) if ttl > 0 else None
    if kept is not None and kept[0] == generation and now < kept[1]:
        rows = kept[2]
    else:
        stmt = (
            select(Group.id, Group.name).join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.user_id == user_id).order_by(Group.name_key)
        )
        rows = tuple((gid, name) for gid, name in db.session.execute(stmt))
        if ttl > 0:
            with state.lock:
                state.members[user_id] = (generation, now + ttl, rows)
    if has_app_context():
        g.setdefault(_G_KEY, {})[user_id] = rows
    return rows


def forget_memberships() -> None:
    """Drop the cached memberships of this request and of this worker (after any change of
    groups or members); other workers follow within the TTL."""
    if has_app_context():
        g.pop(_G_KEY, None)
        state = _state()
        with state.lock:
            state.member_generation += 1
            state.members.clear()
