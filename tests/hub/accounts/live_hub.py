"""A hub served on a loopback port from a thread (werkzeug's server), for browser tests
that also read the hub's database directly."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

from tests.conftest import HUB_ADMIN_PASSWORD, HUB_USER_PASSWORD, PLUGINS, free_port


@contextmanager
def live_hub(hub_config: dict[str, Any], clock: Any, **overrides: Any) -> Iterator[tuple[Any, str]]:
    """The hub at ``http://localhost:<port>`` (its ``SSO_BASE_URL``), CSRF on, with the
    users ``admin`` and ``ann``. Yields the app and the base URL."""
    from sso import create_app
    from sso.accounts.service import create_user
    from sso.base.db import db

    port = free_port()
    base = f"http://localhost:{port}"
    config = {**hub_config, "BASE_URL": base, "WTF_CSRF_ENABLED": True, **overrides}
    app = create_app(config, plugins=PLUGINS, clock=clock)
    with app.app_context():
        db.create_all()
        create_user("admin", "admin@example.com", "Ada Admin", admin=True, password=HUB_ADMIN_PASSWORD)
        create_user("ann", "ann@example.com", "Ann Example", password=HUB_USER_PASSWORD)
    server = make_server("127.0.0.1", port, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, base
    finally:
        server.shutdown()
        thread.join()
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
