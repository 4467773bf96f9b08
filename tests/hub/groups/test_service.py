"""Group use cases: names, uniqueness, members, each audited and committed once, signals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sso.accounts.service import find_user
from sso.audit.models import AuditEvent
from sso.base.db import db, transaction
from sso.base.errors import NotFound, ValidationError
from sso.groups import membership_changed, user_groups
from sso.groups.models import Group, GroupMember
from sso.groups.service import (
    add_member,
    create_group,
    delete_group,
    find_group,
    list_groups,
    members,
    memberships,
    remove_member,
    rename_group,
    set_user_groups,
)

BOTH = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _events(name: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)))


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_names_are_trimmed_nfc_and_unique_ignoring_case(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        group = create_group("  Cafe\u0301 Staff ")
        assert group.name == "Café Staff"  # trimmed, NFC (e + combining acute -> é)
        for clash in ("café staff", "CAFÉ STAFF", "Cafe\u0301 staff", "\tcafé staff"):
            with pytest.raises(ValidationError, match="already exists"):
                create_group(clash)
        assert find_group("CAFÉ STAFF") is not None and find_group("Café Staf") is None
        for bad in ("", "   ", "a\u202eb", "x" * 101, "tab\there"):
            with pytest.raises(ValidationError):
                create_group(bad)
        assert [g.name for g in list_groups()] == ["Café Staff"]
        assert [e.detail["group"] for e in _events("group_created")] == ["Café Staff"]


def test_members_added_removed_audited_and_listed(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        finance = create_group("Finance")
        sales = create_group("sales")
        assert add_member(finance, "ann") is True
        assert add_member(finance, "ANN@example.com") is False  # same user, already in
        assert add_member(sales, "ann") is True
        assert add_member(finance, "admin") is True
        ann = find_user("ann")
        assert ann is not None
        assert user_groups(ann) == ["Finance", "sales"]  # sorted ignoring case
        assert [u.login for u in members(finance)] == ["admin", "ann"]
        assert {g.name: g.members for g in list_groups()} == {"Finance": 2, "sales": 1}
        assert memberships()[ann.id] == ["Finance", "sales"]
        with pytest.raises(NotFound):
            add_member(finance, "nobody")
        assert remove_member(finance, "ann") is True
        assert remove_member(finance, "ann") is False
        assert user_groups(ann) == ["sales"]
        added = _events("group_member_added")
        assert [(e.user_id, e.detail["group"]) for e in added] == [(ann.id, "Finance"), (ann.id, "sales"),
                                                                   (find_user("admin").id, "Finance")]
        assert [e.detail["group"] for e in _events("group_member_removed")] == ["Finance"]


def test_rename_and_delete(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        group = create_group("Finance")
        create_group("Sales")
        add_member(group, "ann")
        with pytest.raises(ValidationError, match="already exists"):
            rename_group(group, " SALES ")
        assert rename_group(group, "Finance") is False
        assert rename_group(group, "finance") is True  # a change of case is a rename
        assert rename_group(group, "Accounting") is True
        assert user_groups(find_user("ann")) == ["Accounting"]
        assert [(e.detail["from"], e.detail["to"]) for e in _events("group_renamed")] == [
            ("Finance", "finance"), ("finance", "Accounting")]
        assert delete_group(group) == 1
        assert find_group("Accounting") is None
        assert db.session.scalars(select(GroupMember)).all() == []
        assert find_user("ann") is not None  # the users stay
        assert _events("group_deleted")[0].detail["members"] == 1


def test_a_use_case_commits_once_and_rolls_back_whole(app) -> None:  # type: ignore[no-untyped-def]
    """Inside an outer transaction that fails, neither the group nor its audit row remain."""
    with app.app_context():
        with pytest.raises(RuntimeError), transaction():
            group = create_group("Finance")
            add_member(group, "ann")
            raise RuntimeError("boom")
        db.session.expire_all()
        assert db.session.scalars(select(Group)).all() == []
        assert _events("group_created") == [] and _events("group_member_added") == []


def test_membership_signal_is_sent_inside_the_transaction(app) -> None:  # type: ignore[no-untyped-def]
    """A receiver (outbound provisioning's outbox) sees the change in the same transaction,
    and its own writes commit with it, or roll it back by raising."""
    seen: list[tuple[str, str, str, bool]] = []

    def receiver(sender, user, group, change):  # type: ignore[no-untyped-def]
        from sso.base.db import in_transaction

        assert sender is app
        assert (group in user_groups(user)) is (change == "added")  # the groups after the change
        seen.append((user.login, group, change, in_transaction()))

    with app.app_context(), membership_changed.connected_to(receiver):
        group = create_group("Finance")
        add_member(group, "ann")
        add_member(group, "ann")  # no change, no signal
        remove_member(group, "ann")
        add_member(group, "admin")
        delete_group(group)
    assert seen == [("ann", "Finance", "added", True), ("ann", "Finance", "removed", True),
                    ("admin", "Finance", "added", True), ("admin", "Finance", "removed", True)]

    def refuse(sender, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("outbox unavailable")

    with app.app_context():
        group = create_group("Sales")
        with membership_changed.connected_to(refuse), pytest.raises(RuntimeError):
            add_member(group, "ann")
        db.session.expire_all()
        assert user_groups(find_user("ann")) == []


def test_set_user_groups_within_a_scope(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        for name in ("Finance", "Sales", "IT"):
            create_group(name)
        ann = find_user("ann")
        add_member(find_group("Finance"), ann)
        add_member(find_group("IT"), ann)
        added, removed = set_user_groups(ann, ["sales"], only=["Finance", "Sales"])
        assert (added, removed) == (["Sales"], ["Finance"])
        assert user_groups(ann) == ["IT", "Sales"]  # IT is outside the scope: kept
        with pytest.raises(NotFound):
            set_user_groups(ann, ["Nope"])
