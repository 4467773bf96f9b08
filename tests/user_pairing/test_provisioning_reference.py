"""Outbound provisioning against the REAL reference invoicing app's SCIM server.

User changes (PATCH /Users) and group changes (PATCH /Groups members, RFC 7644 section
3.5.2) made in the hub reach the app through the outbox and the worker.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from sso.base import context
from sso.base.db import db, transaction
from user_pairing import provisioning
from user_pairing.models import OutboxEntry

from .conftest import INVOICING_SCIM_TOKEN as TOKEN
from .helpers import set_directory

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def provisioned(app, connected_app, invoicing_scim):  # type: ignore[no-untyped-def]
    set_directory(app, "scim", invoicing_scim, TOKEN)
    return app


def _user(url: str, login: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/Users", headers=AUTH, params={"filter": f'userName eq "{login}"'})
    answer.raise_for_status()
    found = answer.json().get("Resources", [])
    assert len(found) == 1, found
    return dict(found[0])


def _new_group(url: str, name: str) -> str:
    answer = httpx.post(
        f"{url}/Groups", headers={**AUTH, "Content-Type": "application/scim+json"},
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _members(url: str, group_id: str) -> list[str]:
    answer = httpx.get(f"{url}/Groups/{group_id}", headers=AUTH)
    answer.raise_for_status()
    return sorted(str(m["value"]) for m in answer.json().get("members") or [])


def _kinds() -> list[str]:
    db.session.expire_all()
    return [r.kind for r in db.session.scalars(sa.select(OutboxEntry).order_by(OutboxEntry.id))]


def _deliver() -> provisioning.PassResult:
    done = provisioning.Worker().run_once()
    assert done.retried == done.failed == 0, done
    assert _kinds() == []
    return done


def test_user_creation_changes_and_deactivation_reach_the_reference_app(provisioned, invoicing_scim) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import create_user, deactivate_user, update_user

    url = invoicing_scim
    with provisioned.app_context():
        user = create_user("zoe", "zoe@example.com", "Zoe Zed")
        _deliver()
        created = _user(url, "zoe")
        assert created["emails"][0]["value"] == "zoe@example.com" and created["active"] is True

        update_user(db.session.merge(user), login="zoe.zed", email="zoe.zed@example.com", name="Zoe Z. Zed")
        assert _kinds() == ["changed"]
        _deliver()
        changed = _user(url, "zoe.zed")
        assert changed["id"] == created["id"]  # patched in place, not created again
        assert changed["emails"][0]["value"] == "zoe.zed@example.com"
        assert changed["displayName"] == "Zoe Z. Zed"  # the app keeps displayName, not name

        deactivate_user(db.session.merge(user))
        _deliver()
        assert _user(url, "zoe.zed")["active"] is False
        update_user(db.session.merge(user), active=True)
        _deliver()
        assert _user(url, "zoe.zed")["active"] is True


def test_group_membership_changes_reach_the_reference_app(provisioned, invoicing_scim) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import create_user
    from sso.groups.service import add_member, create_group, remove_member, rename_group

    url = invoicing_scim
    finance, accounting, ops = _new_group(url, "Finance"), _new_group(url, "Accounting"), _new_group(url, "Ops")
    with provisioned.app_context():
        create_user("zoe", "zoe@example.com", "Zoe Zed")
        _deliver()
        zoe_id = _user(url, "zoe")["id"]
        hub_finance = create_group(" finance")  # the same department, spelt differently
        create_group("Sales")  # a department the app does not have
        assert _kinds() == []  # an empty group changes nobody

        add_member(hub_finance, "zoe")
        add_member(create_group("Ops team"), "zoe")
        assert _kinds() == ["groups", "groups"]  # written with the change
        _deliver()
        assert _members(url, finance) == [zoe_id]
        assert _members(url, ops) == []  # "Ops" is not "Ops team": not the hub's to manage

        # A change that rolls back leaves no outbox row behind.
        with pytest.raises(RuntimeError), transaction():
            remove_member(db.session.merge(hub_finance), "zoe")
            raise RuntimeError("the outer transaction fails")
        assert _kinds() == []

        remove_member(db.session.merge(hub_finance), "zoe")
        _deliver()
        assert _members(url, finance) == []

        add_member(db.session.merge(hub_finance), "zoe")
        rename_group(db.session.merge(hub_finance), "Accounting")
        assert _kinds() == ["groups", "groups"]
        _deliver()
        assert _members(url, accounting) == [zoe_id]


def test_group_delivery_twice_changes_nothing(provisioned, invoicing_scim) -> None:  # type: ignore[no-untyped-def]
    """A worker that PATCHed the group and died before recording it: the next delivery of the
    same row finds the member already there and neither adds it twice nor fails."""
    from sso.accounts.service import create_user
    from sso.groups.service import add_member, create_group

    url = invoicing_scim
    finance = _new_group(url, "Finance")
    with provisioned.app_context():
        create_user("zoe", "zoe@example.com")
        _deliver()
        add_member(create_group("Finance"), "zoe")
        app_id, user_id = db.session.execute(sa.select(OutboxEntry.app_id, OutboxEntry.user_id)).one()
        _deliver()
        with transaction():  # the lost commit: the delivered row is back
            now = context.now()
            db.session.add(OutboxEntry(app_id=app_id, user_id=user_id, kind="groups", created_at=now,
                                       next_attempt_at=now))
        _deliver()
        assert _members(url, finance) == [_user(url, "zoe")["id"]]


def _join(url: str, group_id: str, user_id: str) -> None:
    answer = httpx.patch(
        f"{url}/Groups/{group_id}", headers={**AUTH, "Content-Type": "application/scim+json"},
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}]},
    )
    assert answer.status_code == 200, answer.text


def test_a_group_deleted_or_renamed_in_the_hub_is_left_in_the_app(provisioned, invoicing_scim) -> None:  # type: ignore[no-untyped-def]
    """The hub no longer has the group by that name, so delivery cannot find it among the hub's
    current groups: the outbox row remembers the names the change concerned, and the app user
    leaves the app's department of the old name. Departments only the app has stay untouched."""
    from sso.accounts.service import create_user
    from sso.groups.service import add_member, create_group, delete_group, rename_group

    url = invoicing_scim
    finance, accounting, legal, ops = (_new_group(url, n) for n in ("Finance", "Accounting", "Legal", "Ops"))
    with provisioned.app_context():
        create_user("zoe", "zoe@example.com", "Zoe Zed")
        create_user("yan", "yan@example.com", "Yan Yu")
        _deliver()
        zoe_id, yan_id = _user(url, "zoe")["id"], _user(url, "yan")["id"]
        _join(url, ops, zoe_id)  # a department only the app knows
        hub_finance, hub_legal = create_group("Finance"), create_group("legal")
        for user in ("zoe", "yan"):
            add_member(db.session.merge(hub_finance), user)
        add_member(hub_legal, "zoe")
        _deliver()
        assert _members(url, finance) == sorted([zoe_id, yan_id]) and _members(url, legal) == [zoe_id]

        rename_group(db.session.merge(hub_finance), "Accounting")
        _deliver()
        assert _members(url, finance) == []  # the old name is left ...
        assert _members(url, accounting) == sorted([zoe_id, yan_id])  # ... and the new one joined

        rename_group(db.session.merge(hub_finance), "Audit")  # a name the app does not have
        _deliver()
        assert _members(url, accounting) == []

        delete_group(db.session.merge(hub_legal))
        assert _kinds() == ["groups"]
        _deliver()
        assert _members(url, legal) == []
        assert _members(url, ops) == [zoe_id]  # never the hub's to manage
