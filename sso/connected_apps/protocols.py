"""Other sign-on protocols plug their ``apps add`` here (this package never imports them).

A protocol package (``sso.oidc``) registers ``add(slug, name, options, actor) -> (app,
plain secret or None)``; ``flask --app wsgi apps add --protocol NAME`` calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask

from sso.base import context

Adder = Callable[[str, str, Mapping[str, Any], str], tuple[Any, str | None]]


def register_protocol(app: Flask, name: str, add: Adder) -> None:
    context.hub_state(app).features.setdefault("connected_apps.protocols", {})[name] = add


def protocol_adder(name: str) -> Adder | None:
    adders: dict[str, Adder] = context.hub_state().features.get("connected_apps.protocols", {})
    return adders.get(name)
