"""Pluggable decisions the OIDC provider asks about, with their defaults.

* ``may_open(user, app)``: may this user sign in to this app? Default: yes. (Per-app
  access lists plug in here.)
* ``group_names(user, app)``: the names for the ``groups`` claim. Default: none.

Set per app with :func:`set_access_check` / :func:`set_group_source` (kept in the hub
state, so two apps in one process never share them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from sso.base import context

AccessCheck = Callable[[Any, Any], bool]
GroupSource = Callable[[Any, Any], Iterable[str]]


def _slot(app: Flask | None = None) -> dict[str, Any]:
    return context.hub_state(app).features.setdefault("oidc.hooks", {})


def set_access_check(check: AccessCheck, app: Flask | None = None) -> None:
    _slot(app)["may_open"] = check


def set_group_source(source: GroupSource, app: Flask | None = None) -> None:
    _slot(app)["groups"] = source


def may_open(user: Any, connected_app: Any) -> bool:
    check = _slot().get("may_open")
    return True if check is None else bool(check(user, connected_app))


def group_names(user: Any, connected_app: Any) -> list[str]:
    source = _slot().get("groups")
    return [] if source is None else sorted(str(name) for name in source(user, connected_app))
