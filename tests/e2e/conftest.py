"""End-to-end fixtures: both apps as real gunicorn processes, Debian's chromium via Playwright.

The stack is provisioned through the public CLIs (see examples/stack.py) on free loopback
ports, each app on its own SQLite database. A failing test leaves a screenshot under
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from examples.stack import REPO, Stack
from tests.conftest import free_port

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The hub and the invoicing app, provisioned and running for the whole session.

    The per-IP login limit is raised (every browser here comes from 127.0.0.1), the
    per-account one is the default: test_pages.py reaches the "too many attempts" page.
    """
    with Stack(
        workdir=tmp_path_factory.mktemp("stack"),
        hub_port=free_port(),
        app_port=free_port(),
        helpdesk_port=free_port(),
        hub_settings={"SSO_LOGIN_LIMIT_IP": "1000 per minute"},
    ) as running:
        yield running


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser context (no cookies) and page; screenshot kept if the test fails."""
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
