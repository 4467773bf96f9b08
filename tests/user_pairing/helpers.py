"""Small helpers shared by the pairing web and CLI tests."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from user_pairing import service

COUNT = re.compile(r'<span class="count" data-status="([a-z_]+)">(\d+)</span>')
ROW = re.compile(r'<tr class="row status-([a-z_]+)"')


def set_directory(app: Flask, kind: str, url: str | None, token: str | None, slug: str = "invoices") -> None:
    from sso.connected_apps.service import get_app

    with app.app_context():
        service.set_directory(get_app(slug), kind, url, token)


def refresh(app: Flask, slug: str = "invoices", **kwargs: Any) -> None:
    from sso.connected_apps.service import get_app

    with app.app_context():
        service.refresh(get_app(slug), **kwargs)


def counts(page: str) -> dict[str, int]:
    """The per-status counts at the top of a pairing page."""
    return {status: int(n) for status, n in COUNT.findall(page)}


def row_statuses(page: str) -> list[str]:
    """The status of each table row shown on a pairing page."""
    return ROW.findall(page)
