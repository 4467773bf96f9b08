"""Group use cases: create, rename, delete a group; add and remove members; look-ups.

Each public use case validates its input, writes, records its audit event, sends its
signal (:mod:`.signals`, inside the transaction) and commits once
(:func:`sso.base.db.transaction`). The admin pages and the CLI only parse input and map
:class:`~sso.base.errors.HubError` to a page or a message.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from sso.accounts.models import User
from sso.accounts.service import find_user
from sso.audit import record, register_events
from sso.base.db import db, transaction
from sso.base.errors import NotFound, ValidationError
from sso.base.identity import normalize_key

from .cache import forget_memberships, forget_policies, groups_of
from .models import MAX_GROUP_NAME, Group, GroupMember
from .signals import group_renamed, membership_changed

EVENTS = (
    "group_created",
    "group_renamed",
    "group_deleted",
    "group_member_added",
    "group_member_removed",
    "app_access_changed",
    "access_denied",
)
register_events(*EVENTS)


# -- names ------------------------------------------------------------------------------


def clean_group_name(value: object) -> str:
    """A group name: trimmed, NFC, printable, 1..100 characters. Raises ValidationError."""
    text = unicodedata.normalize("NFC", str(value or "").strip())
    if not text:
        raise ValidationError("The group name is required.")
    if len(text) > MAX_GROUP_NAME:
        raise ValidationError(f"The group name is longer than {MAX_GROUP_NAME} characters.")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp", "Cs", "Co"} for ch in text):
        raise ValidationError("The group name must not contain control or invisible characters.")
    return text


def group_key(name: str) -> str:
    """The form in which group names are compared (the hub's one normalisation)."""
    return normalize_key(name)


# -- look-ups ---------------------------------------------------------------------------


def find_group(name: str) -> Group | None:
    """The group called ``name`` (case-insensitive, NFC), if any."""
    key = group_key(str(name or ""))
    if not key:
        return None
    return db.session.scalars(select(Group).where(Group.name_key == key)).first()


def get_group(name_or_id: str | int) -> Group:
    """The group with this id (an int) or name; raises NotFound."""
    group = db.session.get(Group, name_or_id) if isinstance(name_or_id, int) else find_group(name_or_id)
    if group is None:
        raise NotFound("No such group.")
    return group


@dataclass(frozen=True)
class GroupSummary:
    """A group and how many users it has (the list page, ``groups list``)."""

    id: int
    name: str
    members: int


def list_groups() -> list[GroupSummary]:
    """Every group by name, with its member count."""
    stmt = (
        select(Group.id, Group.name, func.count(GroupMember.user_id))
        .outerjoin(GroupMember, GroupMember.group_id == Group.id)
        .group_by(Group.id, Group.name, Group.name_key)
        .order_by(Group.name_key)
    )
    return [GroupSummary(gid, name, count) for gid, name, count in db.session.execute(stmt)]


def members(group: Group) -> list[User]:
    """The users of ``group`` by login."""
    stmt = (
        select(User).join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group.id).order_by(User.login_key)
    )
    return list(db.session.scalars(stmt))


def user_groups(user: User) -> list[str]:
    """The names of the groups ``user`` belongs to, sorted case-insensitively.

    One query per request at most (kept in ``flask.g``; every change of groups drops it).
    """
    return [name for _gid, name in groups_of(user.id)]


#: The OIDC ``groups`` scope and the Multipass ``groups`` claim read the same list.
group_names = user_groups


def memberships(user_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
    """Every user's group names (``user id -> names``); users without a group are absent.

    One query for all users (the pairing report of 100,000 users uses it).
    """
    stmt = (
        select(GroupMember.user_id, Group.name).join(Group, Group.id == GroupMember.group_id)
        .order_by(GroupMember.user_id, Group.name_key)
    )
    if user_ids is not None:
        stmt = stmt.where(GroupMember.user_id.in_(list(user_ids)))
    result: dict[int, list[str]] = {}
    for user_id, name in db.session.execute(stmt):
        result.setdefault(user_id, []).append(name)
    return result


def _user(login_or_user: str | User) -> User:
    if isinstance(login_or_user, User):
        return login_or_user
    user = find_user(str(login_or_user or ""))
    if user is None:
        raise NotFound(f"No user {str(login_or_user)[:80]!r}.")
    return user


def _sender() -> object:
    return current_app._get_current_object()  # type: ignore[attr-defined]


# -- use cases --------------------------------------------------------------------------


_DUPLICATE = "A group with this name already exists (names are compared ignoring case)."


def _check_free(key: str, exclude_id: int | None = None) -> None:
    stmt = select(Group.id).where(Group.name_key == key)
    if exclude_id is not None:
        stmt = stmt.where(Group.id != exclude_id)
    if db.session.scalars(stmt).first() is not None:
        raise ValidationError(_DUPLICATE)


def create_group(name: str, *, actor: str | None = None) -> Group:
    """Create a group and record ``group_created``; one commit. Raises ValidationError."""
    name = clean_group_name(name)
    key = group_key(name)
    try:
        with transaction():
            _check_free(key)
            group = Group(name=name, name_key=key)
            db.session.add(group)
            db.session.flush()
            record("group_created", actor=actor, detail={"group": group.name, "group_id": group.id})
    except IntegrityError as err:  # a concurrent create won the race
        raise ValidationError(_DUPLICATE) from err
    return group


def rename_group(group: Group, new_name: str, *, actor: str | None = None) -> bool:
    """Rename ``group`` (``group_renamed``); False when the name is unchanged.

    Changing only the letter case is a rename too. Raises ValidationError.
    """
    name = clean_group_name(new_name)
    if name == group.name:
        return False
    key = group_key(name)
    old = group.name
    try:
        with transaction():
            _check_free(key, exclude_id=group.id)
            group.name, group.name_key = name, key
            db.session.flush()
            forget_memberships()
            record("group_renamed", actor=actor, detail={"group_id": group.id, "from": old, "to": name})
            user_ids = list(db.session.scalars(select(GroupMember.user_id).where(GroupMember.group_id == group.id)))
            group_renamed.send(_sender(), group_id=group.id, old_name=old, new_name=name, user_ids=user_ids)
    except IntegrityError as err:
        raise ValidationError(_DUPLICATE) from err
    return True


def delete_group(group: Group, *, actor: str | None = None) -> int:
    """Delete ``group`` and its memberships (``group_deleted``); returns how many members it had.

    Apps restricted to this group stay restricted (see :class:`~.models.AppAccess`).
    """
    forget_memberships()
    try:
        with transaction():
            count = _delete_group(group, actor)
    finally:
        forget_policies()  # its grants are gone (ON DELETE CASCADE)
        forget_memberships()
    return count


def _delete_group(group: Group, actor: str | None) -> int:
    users = members(group)
    name = group.name
    record("group_deleted", actor=actor, detail={"group": name, "group_id": group.id, "members": len(users)})
    db.session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
    db.session.delete(group)
    db.session.flush()
    forget_memberships()  # receivers' user_groups(user) no longer list the group
    for user in users:
        membership_changed.send(_sender(), user=user, group=name, change="removed")
    return len(users)


def add_member(group: Group, login_or_user: str | User, *, actor: str | None = None) -> bool:
    """Put a user (a User, or a login or e-mail) in ``group`` (``group_member_added``).

    False when they already were. Raises NotFound for an unknown user.
    """
    user = _user(login_or_user)
    try:
        with transaction():
            if db.session.get(GroupMember, (group.id, user.id)) is not None:
                return False
            db.session.add(GroupMember(group_id=group.id, user_id=user.id))
            db.session.flush()
            forget_memberships()  # a receiver's user_groups(user) sees the change
            record("group_member_added", user=user, actor=actor, detail={"group": group.name, "login": user.login})
            membership_changed.send(_sender(), user=user, group=group.name, change="added")
        return True
    finally:
        forget_memberships()  # the request's cached groups of the user


def remove_member(group: Group, login_or_user: str | User, *, actor: str | None = None) -> bool:
    """Take a user out of ``group`` (``group_member_removed``); False when they were not in it."""
    user = _user(login_or_user)
    try:
        with transaction():
            row = db.session.get(GroupMember, (group.id, user.id))
            if row is None:
                return False
            db.session.delete(row)
            db.session.flush()
            forget_memberships()
            record("group_member_removed", user=user, actor=actor, detail={"group": group.name, "login": user.login})
            membership_changed.send(_sender(), user=user, group=group.name, change="removed")
        return True
    finally:
        forget_memberships()  # the request's cached groups of the user


def set_user_groups(
    user: User, names: Iterable[str], *, only: Iterable[str] | None = None, actor: str | None = None
) -> tuple[list[str], list[str]]:
    """Make ``user``'s groups ``names`` (existing groups, compared ignoring case); one commit.

    With ``only`` (group names), groups outside it are left alone: the pairing page's
    "change in the hub" fix sets the departments the app knows and keeps the others.
    Each change is recorded and signalled like :func:`add_member` / :func:`remove_member`.
    Returns the names added and removed. Raises NotFound for a name with no group.
    """
    wanted = {group_key(n): n for n in names}
    scope = None if only is None else {group_key(n) for n in only}
    added: list[str] = []
    removed: list[str] = []
    with transaction():
        groups = {g.name_key: g for g in db.session.scalars(select(Group).where(Group.name_key.in_(list(wanted))))}
        missing = [wanted[k] for k in wanted if k not in groups]
        if missing:
            raise NotFound(f"No group named {missing[0][:80]!r} in the hub.")
        current = {
            g.name_key: g
            for g in db.session.scalars(
                select(Group).join(GroupMember, GroupMember.group_id == Group.id).where(GroupMember.user_id == user.id)
            )
        }
        for key, group in sorted(current.items()):
            if key not in wanted and (scope is None or key in scope) and remove_member(group, user, actor=actor):
                removed.append(group.name)
        for key, group in sorted(groups.items()):
            if key not in current and add_member(group, user, actor=actor):
                added.append(group.name)
    return added, removed
