"""In a real browser: the apps admin pages at 1280 and 390 px (no horizontal overflow), the
staged rotation walked by clicks, and the copy button working under the hub's CSP."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import HUB_ADMIN_PASSWORD, free_port

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)


@pytest.fixture
def hub_url(app, connected_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    port = free_port()
    app.config["WTF_CSRF_ENABLED"] = True
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _no_overflow(page: Any) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"horizontal overflow at {page.url}: {widths}"


def _shots() -> Path | None:
    folder = os.environ.get("SSO_TEST_SCREENSHOTS")
    return Path(folder) if folder else None


def test_apps_pages_and_staged_rotation_in_a_browser(hub_url: str, browser: Any, tmp_path: Path) -> None:
    shots = _shots() or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub_url)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{hub_url}/login")
        page.fill("input[name=login]", "admin")
        page.fill("input[name=password]", HUB_ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{hub_url}/admin/apps/invoices")
        page.click("button:has-text('Stage new secret')")
        page.wait_for_url(f"{hub_url}/admin/apps/invoices/secret/shown")
        secret = page.input_value("#secret")
        page.click("button.copy[data-copy=secret]")
        page.wait_for_selector("button.copy.copied")
        assert page.evaluate("navigator.clipboard.readText()") == secret
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            _no_overflow(page)
            page.screenshot(path=str(shots / f"app_secret_{width}.png"), full_page=True)
        page.reload()
        assert page.url == f"{hub_url}/admin/apps/invoices"  # shown once: the reload goes back
        assert secret not in page.content()
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for path, name in (("/admin/apps/invoices", "app_form_staged"), ("/admin/apps/", "apps"),
                               ("/admin/apps/new", "app_new")):
                page.goto(hub_url + path)
                _no_overflow(page)
                page.screenshot(path=str(shots / f"{name}_{width}.png"), full_page=True)
                for section in ("integration", "secrets"):
                    if page.locator(f"#{section}").count():
                        page.locator(f"#{section}").screenshot(path=str(shots / f"{name}_{section}_{width}.png"))
        page.goto(f"{hub_url}/admin/apps/invoices")
        page.click("button:has-text('Activate')")  # without the box ticked: the form is not sent
        assert page.locator("tr.secret-row.next").count() == 1
        assert page.get_attribute("input[name=confirm]", "required") is not None  # the server checks it too
        page.check("input[name=confirm]")
        page.click("button:has-text('Activate')")
        page.wait_for_selector("tr.secret-row.previous")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            _no_overflow(page)
            page.screenshot(path=str(shots / f"app_form_previous_{width}.png"), full_page=True)
        page.click("button:has-text('Retire')")
        page.wait_for_selector("tr.secret-row.retired")
        assert not errors, errors  # no CSP violation, no script error
    finally:
        context.close()
