"""In a real browser: the hub's signed-out page frames /logout/frontchannel and our session ends.

This checks the SameSite claim the app relies on: the hub (127.0.0.1:A) and the app
(127.0.0.1:B) differ only by port, so they are the same site, and a ``SameSite=Lax``
session cookie is sent with the framed request. Only the app runs here; a tiny static
server stands in for the hub's signed-out page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import free_port

from .conftest import AppFactory

pytestmark = pytest.mark.browser


def serve_hub_page(port: int, app_port: int) -> ThreadingHTTPServer:
    """A stand-in for the hub's signed-out page, which frames the app's logout URL."""
    page = (
        "<!doctype html><title>Signed out</title><p>You are signed out.</p>"
        f'<iframe src="http://127.0.0.1:{app_port}/logout/frontchannel" id="fc"></iframe>'
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


@pytest.fixture(params=["127.0.0.1", "localhost"])
def servers(make_app: AppFactory, request: pytest.FixtureRequest) -> Iterator[tuple[str, int, int]]:
    """(hub host, hub port, app port). The app is always on 127.0.0.1."""
    hub_host: str = request.param
    hub_port, app_port = free_port(), free_port()
    app = make_app(HUB_URL=f"http://{hub_host}:{hub_port}")
    app_server = make_server("127.0.0.1", app_port, app, threaded=True)
    hub_server = serve_hub_page(hub_port, app_port)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (app_server, hub_server)]
    for thread in threads:
        thread.start()
    try:
        yield hub_host, hub_port, app_port
    finally:
        app_server.shutdown()
        hub_server.shutdown()
        app_server.server_close()
        hub_server.server_close()
        for thread in threads:
            thread.join(5)


def test_framed_frontchannel_logout(
    servers: tuple[str, int, int], token: Callable[..., str], browser: Any
) -> None:
    """Same site (ports differ): the session ends. Cross-site (localhost vs 127.0.0.1): it cannot."""
    hub_host, hub_port, app_port = servers
    hub_url, app_url = f"http://{hub_host}:{hub_port}", f"http://127.0.0.1:{app_port}"
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{app_url}/login?multipass={token(return_to='/invoices')}")
        assert page.url == f"{app_url}/invoices"
        assert page.locator("#current-user").inner_text() == "ann"
        with page.expect_response(lambda r: r.url.endswith("/logout/frontchannel")) as framed:
            page.goto(f"{hub_url}/")
        assert framed.value.status == 200
        assert page.frame_locator("#fc").locator("p").inner_text() == "Signed out of Invoicing."
        if hub_host == "127.0.0.1":
            # No session any more: the app diverts to the hub's login.
            with page.expect_request(lambda r: r.url.startswith(f"{hub_url}/sso/multipass/")):
                page.goto(f"{app_url}/invoices", wait_until="commit")
        else:
            # Cross-site frame: the Lax cookie was not sent, so the session survives.
            page.goto(f"{app_url}/invoices")
            assert page.locator("#current-user").inner_text() == "ann"
    finally:
        context.close()
