"""The app's pages in a real browser at 1280 and 390 px: no sideways scrolling, a readable
header, and the "Continue as B?" question answered by clicking (its CSRF-checked form).

Screenshots go to ``$INVOICING_SCREENSHOTS`` when set (the pull request shows them).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from examples.invoicing.demo import seed_demo
from tests.conftest import free_port

from .conftest import AppFactory

pytestmark = pytest.mark.browser
WIDTHS = (1280, 390)


@pytest.fixture
def app_url(make_app: AppFactory) -> Iterator[str]:
    port = free_port()
    app = make_app(HUB_URL=f"http://127.0.0.1:{free_port()}")
    seed_demo(app)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def shoot(page: Any, name: str) -> None:
    folder = os.environ.get("INVOICING_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def assert_fits(page: Any, where: str) -> None:
    """No horizontal page overflow, and the header's parts neither overlap nor leave the screen."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{where}: the page scrolls sideways by {overflow}px"
    boxes = page.evaluate(
        """() => [...document.querySelectorAll('.topbar .brand, .topbar nav a, .topbar .who > *')]
              .filter(e => e.offsetParent !== null)
              .map(e => { const r = e.getBoundingClientRect();
                          return {name: e.textContent.trim().slice(0, 20), x: r.x, y: r.y, r: r.right, b: r.bottom}; })"""
    )
    width = page.viewport_size["width"]
    for box in boxes:
        assert box["x"] >= 0 and box["r"] <= width, f"{where}: {box['name']!r} leaves the screen"
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a["r"] <= b["x"] or b["r"] <= a["x"] or a["b"] <= b["y"] or b["b"] <= a["y"]
            assert apart, f"{where}: {a['name']!r} overlaps {b['name']!r}"


def test_pages_fit_and_the_switch_question_works(
    app_url: str, token: Callable[..., str], browser: Any
) -> None:
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 800})
        try:
            page = context.new_page()
            page.goto(f"{app_url}/login?multipass={token(name='Ann Archer-Featherstonehaugh')}")
            for path, name in (("/invoices", "invoices"), ("/invoices/new", "invoice-new")):
                page.goto(app_url + path)
                shoot(page, f"{name}-{width}")
                assert_fits(page, f"{path} at {width}px")
            page.goto(f"{app_url}/login?multipass={token(login='dave', email='dave@example.com', name='Dave Dunn')}")
            assert "Continue as dave" in page.locator("#switch-question").inner_text()
            shoot(page, f"switch-account-{width}")
            assert_fits(page, f"switch question at {width}px")
            page.click("#switch-confirm")
            assert page.locator("#current-user").inner_text() == "dave"
            page.click("text=Log out")
            shoot(page, f"signed-out-{width}")
            assert_fits(page, f"signed out at {width}px")
        finally:
            context.close()
