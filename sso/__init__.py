"""Multipass SSO: an identity hub that moves users between connected apps.

Importing this package loads nothing else: the token core (:mod:`sso.multipass`) and the
pure base modules stay free of Flask and SQLAlchemy. The hub itself is built by
:func:`create_app` (see :mod:`sso.app`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flask import Flask

    from .app import Plugin
    from .base.clock import Clock

__all__ = ["create_app"]


def create_app(
    test_config: dict[str, Any] | None = None, *, plugins: Iterable[Plugin] = (), clock: Clock | None = None
) -> Flask:
    """Build the hub (see :func:`sso.app.create_app`); Flask is imported only now."""
    from .app import create_app as build

    return build(test_config, plugins=plugins, clock=clock)
