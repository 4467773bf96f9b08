"""What a worker keeps between requests so that a code flow reads the database only for
what changes per flow (the code, the token, the user).

* **Clients** by client id (slug) and by row id, for ``APP_CACHE_TTL`` seconds of the app's
  clock (``SSO_APP_CACHE_TTL``, at most 2; 0 turns it off), the same rule as the Multipass
  apps: a change made in this worker (admin page, CLI, use case: anything that flushes an
  ``OidcClient``, a ``ConnectedApp`` or an ``AppSecret``) drops them at once; other workers
  follow within the TTL. A disabled app or a new client secret therefore takes effect
  everywhere within 2 seconds. Unknown client ids are not kept.
* **The apps' origins** (for CORS on the token, userinfo and revocation endpoints), the same way.
* **Pairwise subjects** by (user, client row, client creation time): a ``sub`` never
  changes once written, and the creation time tells a new client apart from a deleted one
  whose row id the database reused.

Cached values are detached copies (:class:`~.server.Client` holds no ORM row).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from cachetools import LRUCache, TTLCache
from flask import current_app

from sso.base import context
from sso.base.db import on_write
from sso.connected_apps.models import AppSecret, ConnectedApp

from .models import OidcClient

if TYPE_CHECKING:
    from .server import Client

MAX_TTL = 2.0
_SIZE = 256
_SUBJECTS = 65536
_generation = [0]
_lock = threading.Lock()
K = TypeVar("K", bound=Hashable)


@dataclass
class ClientCache:
    """This worker's clients and subjects (in the hub state's ``features["oidc.cache"]``)."""

    ttl: float
    clients: TTLCache[Hashable, tuple[int, Client]]
    subjects: LRUCache[tuple[int, int, Any], str] = field(default_factory=lambda: LRUCache(_SUBJECTS))
    origins: tuple[int, float, frozenset[str]] | None = None  # (generation, loaded at, origins)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _cache() -> ClientCache | None:
    ttl = min(float(current_app.config["APP_CACHE_TTL"]), MAX_TTL)
    if ttl <= 0:
        return None
    features = context.hub_state().features
    cache: ClientCache | None = features.get("oidc.cache")
    if cache is None or cache.ttl != ttl:
        with _lock:
            cache = features.get("oidc.cache")
            if cache is None or cache.ttl != ttl:
                cache = ClientCache(ttl, TTLCache(_SIZE, ttl, timer=context.clock().time))
                features["oidc.cache"] = cache
    return cache


def _cached(key: Hashable, load: Callable[[], Client | None]) -> Client | None:
    cache = _cache()
    if cache is None:
        return load()
    with cache.lock:
        entry = cache.clients.get(key)
    if entry is not None and entry[0] == _generation[0]:
        return entry[1]
    generation = _generation[0]  # read before loading: a change during the load is not hidden
    client = load()
    if client is not None:
        with cache.lock:
            cache.clients[("slug", client.client_id)] = (generation, client)
            cache.clients[("id", client.row.id)] = (generation, client)
    return client


def by_slug(slug: str, load: Callable[[str], Client | None]) -> Client | None:
    return _cached(("slug", slug), lambda: load(slug))


def by_id(pk: int, load: Callable[[int], Client | None]) -> Client | None:
    return _cached(("id", pk), lambda: load(pk))


def subject(user_id: int, client: Client, load: Callable[[], str]) -> str:
    """The user's ``sub`` at ``client``, read (or created) by ``load`` once per worker."""
    cache = _cache()
    if cache is None:
        return load()
    key = (user_id, client.row.id, client.row.created_at)
    with cache.lock:
        sub = cache.subjects.get(key)
    if sub is None:
        sub = load()
        with cache.lock:
            cache.subjects[key] = sub
    return sub


def app_origins(load: Callable[[], frozenset[str]]) -> frozenset[str]:
    """The origins of every enabled OIDC app's registered URIs (for CORS), kept like the clients."""
    cache = _cache()
    if cache is None:
        return load()
    with cache.lock:
        entry = cache.origins
    if entry is not None and entry[0] == _generation[0] and cache.clients.timer() - entry[1] < cache.ttl:
        return entry[2]
    generation, loaded_at = _generation[0], cache.clients.timer()
    origins = load()
    with cache.lock:
        cache.origins = (generation, loaded_at, origins)
    return origins


def forget() -> None:
    """Drop every client this worker keeps (subjects stay: they never change)."""
    _generation[0] += 1


on_write((OidcClient, ConnectedApp, AppSecret), forget, name="oidc_clients")
