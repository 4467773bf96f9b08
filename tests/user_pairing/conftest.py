from __future__ import annotations

from collections.abc import Iterator

import pytest

from .directory_server import Directories, serve


@pytest.fixture()
def directories() -> Directories:
    return Directories()


@pytest.fixture()
def base_url(directories: Directories) -> Iterator[str]:
    """The loopback URL of a fresh set of directories."""
    with serve(directories) as url:
        try:
            yield url
        finally:
            directories.release.set()  # let a deliberately slow handler finish


# -- the hub side (pages, CLI, fixes) ---------------------------------------------------------

INVOICING_SCIM_TOKEN = "scim-token-for-the-pairing-tests"
HUB_DEMO_USERS = (
    ("bob", "bob@example.com", "Bob Baker"),
    ("carol", "carol@example.com", "Carol Cooper"),
    ("dave", "dave@example.com", "Dave Dunn"),
    ("erin", "erin@example.com", "Erin Evans"),
)


@pytest.fixture()
def demo_hub(app, connected_app):  # type: ignore[no-untyped-def]
    """The hub fixture's admin and ann plus the demo users bob, carol, dave and erin."""
    from sso.accounts.service import create_user

    with app.app_context():
        for login, email, name in HUB_DEMO_USERS:
            create_user(login, email, name)
    return app


@pytest.fixture()
def invoicing_scim(tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The REAL reference invoicing app, demo data seeded, served on a loopback port.

    Yields its SCIM base URL (``.../scim/v2``); the token is :data:`INVOICING_SCIM_TOKEN`.
    """
    from examples.invoicing import create_app, multipass
    from examples.invoicing.db import db
    from examples.invoicing.demo import seed_demo

    app = create_app(
        {
            "MULTIPASS_SECRETS": ["secret-of-the-invoicing-app-for-tests"],
            "HUB_URL": "http://127.0.0.1:5000",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'invoicing.sqlite3'}",
            "SECRET_KEY": "test session key, long enough",
            "SCIM_TOKEN": INVOICING_SCIM_TOKEN,
            "INSTANCE_PATH": str(tmp_path / "invoicing-instance"),
        }
    )
    seed_demo(app)
    try:
        with serve(app) as url:
            yield f"{url}/scim/v2"
    finally:
        multipass.close(app)
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()


SCIM_SERVER_TOKEN = "token-of-the-conformant-scim-server"


@pytest.fixture()
def scim_server() -> Iterator[tuple[str, object]]:
    """A conformant SCIM 2.0 server with PATCH (scim2-server, in-memory storage) on a loopback port.

    Yields its base URL and storage; the token is :data:`SCIM_SERVER_TOKEN`.
    """
    from scim2_server.memory import InMemoryStorage
    from scim2_server.testserver.application import BearerTokenApplication
    from scim2_server.utils import load_default_provider

    storage = InMemoryStorage()
    application = BearerTokenApplication(storage, load_default_provider(), bearer_tokens=[SCIM_SERVER_TOKEN])
    with serve(application) as url:
        yield url, storage


@pytest.fixture()
def admin_client(demo_hub, client, auth):  # type: ignore[no-untyped-def]
    """A test client logged in as the hub's admin."""
    auth.login_admin()
    return client
