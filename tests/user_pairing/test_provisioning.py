"""Outbound provisioning: the outbox is written with the change, the worker delivers it.

The SCIM server is a real one: ``scim2-server`` (a conformant implementation with PATCH),
served over HTTP on a loopback port. The kill test runs the worker as a separate process
against the reference invoicing app (tests/user_pairing/test_provisioning_kill.py).
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from sso.base.db import db, transaction
from user_pairing import provisioning
from user_pairing.models import OutboxEntry, ProvisioningLink

from .conftest import SCIM_SERVER_TOKEN as TOKEN
from .helpers import set_directory


@pytest.fixture()
def provisioned(app, connected_app, scim_server):  # type: ignore[no-untyped-def]
    url, _ = scim_server
    set_directory(app, "scim", url, TOKEN)
    return app


def remote_users(url: str) -> list[dict[str, Any]]:
    import httpx

    answer = httpx.get(f"{url}/Users", headers={"Authorization": f"Bearer {TOKEN}"}, params={"count": 1000})
    answer.raise_for_status()
    return list(answer.json().get("Resources", []))


def remote(url: str, login: str) -> dict[str, Any]:
    found = [u for u in remote_users(url) if u["userName"] == login]
    assert len(found) == 1, found
    return found[0]


def outbox() -> list[OutboxEntry]:
    return list(db.session.scalars(sa.select(OutboxEntry).order_by(OutboxEntry.id)))


def test_a_change_and_its_outbox_row_commit_together(provisioned) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import create_user, update_user

    with provisioned.app_context():
        user = create_user("zoe", "zoe@example.com", "Zoe Zed")
        assert [(r.user_id, r.kind) for r in outbox()] == [(user.id, "created")]
        # A use case that fails after the signal rolls its outbox row back with it.
        with pytest.raises(RuntimeError), transaction():
            update_user(user, email="zoe@elsewhere.example")
            raise RuntimeError("the outer transaction fails")
        db.session.expire_all()
        assert [r.kind for r in outbox()] == ["created"]
        # An admin flag concerns no app: no row.
        update_user(user, is_admin=True)
        assert [r.kind for r in outbox()] == ["created"]
        update_user(user, login="zoe2")
        rows = outbox()
        assert [(r.kind, r.old_login) for r in rows] == [("created", None), ("changed", "zoe")]


def test_no_scim_directory_no_outbox(app, connected_app) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import create_user

    with app.app_context():
        create_user("zoe", "zoe@example.com")
        assert outbox() == []


def test_csv_import_queues_every_new_user(provisioned) -> None:  # type: ignore[no-untyped-def]
    import io

    from sso.accounts.service import import_users_csv

    with provisioned.app_context():
        result = import_users_csv(io.StringIO("login,email,name\nu1,u1@example.com,U One\nu2,u2@example.com,\n"))
        assert result.created == 2
        assert sorted(r.kind for r in outbox()) == ["created", "created"]


def test_worker_creates_changes_and_deactivates(provisioned, scim_server) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import create_user, deactivate_user, update_user

    url, _ = scim_server
    with provisioned.app_context():
        user = create_user("zoe", "zoe@example.com", "Zoe Zed")
        done = provisioning.Worker().run_once()
        assert done.delivered == 1 and outbox() == []
        created = remote(url, "zoe")
        assert created["emails"][0]["value"] == "zoe@example.com"
        assert created["externalId"] == str(user.id)
        assert created["active"] is True

        user = db.session.merge(user)
        update_user(user, login="zoe.zed", email="zoe.zed@example.com", name="Zoe Z. Zed")
        provisioning.Worker().run_once()
        changed = remote(url, "zoe.zed")
        assert changed["id"] == created["id"]
        assert changed["emails"][0]["value"] == "zoe.zed@example.com"
        assert changed["name"]["formatted"] == "Zoe Z. Zed"

        deactivate_user(db.session.merge(user))
        provisioning.Worker().run_once()
        assert remote(url, "zoe.zed")["active"] is False
        assert len(remote_users(url)) == 1
        state = provisioning.app_status(db.session.merge(user) and _app())
        assert state.pending == 0 and state.last_sync_at is not None and state.last_error is None


def _app():  # type: ignore[no-untyped-def]
    from sso.connected_apps.service import get_app

    return get_app("invoices")


def test_delivery_is_idempotent_after_a_lost_commit(provisioned, scim_server) -> None:  # type: ignore[no-untyped-def]
    """The worker POSTed, then died before recording it: the next pass finds the user, no duplicate."""
    from sso.accounts.service import create_user
    from user_pairing.scim_client import Desired, ScimClient

    url, _ = scim_server
    with provisioned.app_context():
        user = create_user("zoe", "zoe@example.com", "Zoe Zed")
        with ScimClient(url, TOKEN, timeout=5) as client:
            client.create(Desired("zoe", "zoe@example.com", "Zoe Zed", True, str(user.id)))
        done = provisioning.Worker().run_once()
        assert done.delivered == 1 and outbox() == []
        assert len(remote_users(url)) == 1
        assert db.session.scalars(sa.select(ProvisioningLink.remote_id)).one() == remote(url, "zoe")["id"]


def test_an_unreachable_app_is_retried_with_backoff(app, connected_app, clock) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import create_user
    from tests.conftest import free_port

    set_directory(app, "scim", f"http://127.0.0.1:{free_port()}/scim/v2", TOKEN)
    app.config["PROVISIONING_RETRIES"] = 0
    with app.app_context():
        create_user("zoe", "zoe@example.com")
        assert provisioning.Worker().run_once().retried == 1
        (row,) = outbox()
        assert row.attempts == 1 and row.failed_at is None and "could not be reached" in (row.last_error or "")
        assert provisioning.Worker().run_once().handled == 0  # not due yet
        clock.advance(2.1)
        assert provisioning.Worker().run_once().retried == 1
        clock.advance(2.1)
        assert provisioning.Worker().run_once().handled == 0  # the second wait is 4 s
        clock.advance(2)
        assert provisioning.Worker().run_once().retried == 1
        db.session.expire_all()
        assert outbox()[0].attempts == 3
        assert provisioning.app_status(_app()).last_error is not None


def test_a_refused_change_waits_for_the_admin(provisioned, scim_server) -> None:  # type: ignore[no-untyped-def]
    """A 4xx (here: a userName the app already gives another account) is not retried blindly."""
    import httpx

    from sso.accounts.service import create_user, update_user

    url, _ = scim_server
    headers = {"Authorization": f"Bearer {TOKEN}"}
    httpx.post(f"{url}/Users", headers=headers,
               json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "taken"}).raise_for_status()
    with provisioned.app_context():
        user = create_user("zoe", "zoe@example.com")
        provisioning.Worker().run_once()
        update_user(db.session.merge(user), login="taken2")
        db.session.execute(sa.update(ProvisioningLink).values(remote_id=remote(url, "zoe")["id"]))
        db.session.commit()
        # The app holds "taken": renaming zoe to it is refused with 409.
        user = db.session.merge(user)
        update_user(user, login="TAKEN")
        done = provisioning.Worker().run_once()
        assert done.failed == 2
        state = provisioning.app_status(_app())
        assert state.failed == 2 and state.pending == 0 and "409" in (state.last_error or "")
        assert provisioning.retry_failed(_app(), actor="test") == 2
        assert provisioning.app_status(_app()).pending == 2


def test_rows_leased_by_a_live_worker_are_not_taken_twice(provisioned, clock) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import create_user

    with provisioned.app_context():
        create_user("zoe", "zoe@example.com")
        first = provisioning.Worker("one").lease(10)
        assert len(first) == 1
        assert provisioning.Worker("two").lease(10) == []
        clock.advance(31)  # the lease of a killed worker runs out
        assert len(provisioning.Worker("two").lease(10)) == 1
