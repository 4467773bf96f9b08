"""Pairing the hub's users with an app's users: pure functions, no Flask, no database.

Two accounts are paired when both systems hold one user with the same login and the same
e-mail, compared after :func:`normalise` (the hub's :func:`sso.base.identity.normalize_key`,
the rule every connected app uses too). Every user of either side lands in exactly one
:class:`PairingRow`, whose status says what is wrong and whose hint says, in plain words,
what to change in which system.

The matching works on connected groups: two users belong to the same group when they share
a normalised login or e-mail (on the same side or across). A group of one hub user and one
app user is ``paired``, ``email_mismatch`` or ``login_mismatch``; a lone user is
``missing_in_app`` or ``missing_in_hub``; anything larger is a ``conflict``. Groups are found
through dict indexes on the normalised keys, so the work is linear in the number of users.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from enum import StrEnum
from itertools import filterfalse
from operator import attrgetter, itemgetter

from sso.base.identity import normalize_key, normalize_keys


class Status(StrEnum):
    """The status of one row, in the order rows are listed (problems first)."""

    CONFLICT = "conflict"
    EMAIL_MISMATCH = "email_mismatch"
    LOGIN_MISMATCH = "login_mismatch"
    MISSING_IN_APP = "missing_in_app"
    MISSING_IN_HUB = "missing_in_hub"
    PAIRED = "paired"


_RANK = {status: rank for rank, status in enumerate(Status)}
_MISSING_IN_APP = _RANK[Status.MISSING_IN_APP]
_MISSING_IN_HUB = _RANK[Status.MISSING_IN_HUB]
_PAIRED_HINT = "Paired: nothing to fix."


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """One account as a directory reports it. ``ref`` is the source's own id, if any."""

    login: str
    email: str
    name: str | None = None
    active: bool = True
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class PairingRow:
    """One line of the pairing table.

    ``hub`` and ``app`` keep the raw values as the systems hold them. ``group`` numbers the
    rows of one conflict (1, 2, ...) so they can be shown together; it is ``None`` elsewhere.
    """

    status: Status
    hub: DirectoryUser | None
    app: DirectoryUser | None
    hint: str
    case_only_difference: bool = False
    group: int | None = None

    @property
    def inactive(self) -> bool:
        """True when the user is marked inactive on either side."""
        return (self.hub is not None and not self.hub.active) or (self.app is not None and not self.app.active)

    def to_dict(self) -> dict[str, object]:
        """The row as plain JSON-ready data (``None`` where a side is absent)."""
        hub, app = self.hub, self.app
        return {
            "status": str(self.status),
            "hub_login": hub.login if hub else None,
            "hub_email": hub.email if hub else None,
            "hub_name": hub.name if hub else None,
            "hub_active": hub.active if hub else None,
            "app_login": app.login if app else None,
            "app_email": app.email if app else None,
            "app_name": app.name if app else None,
            "app_active": app.active if app else None,
            "app_ref": app.ref if app else None,
            "case_only_difference": self.case_only_difference,
            "inactive": self.inactive,
            "group": self.group,
            "hint": self.hint,
        }


#: The shared comparison key (:func:`sso.base.identity.normalize_key`), under this module's name.
normalise = normalize_key


def counts(rows: Iterable[PairingRow]) -> dict[Status, int]:
    """The number of rows per status; every status is present, zero included."""
    result = dict.fromkeys(Status, 0)
    for row in rows:
        result[row.status] += 1
    return result


def match_users(
    hub_users: Iterable[DirectoryUser],
    app_users: Iterable[DirectoryUser],
    *,
    app_name: str = "the app",
    hub_name: str = "the hub",
) -> list[PairingRow]:
    """Pair the hub's users with the app's users; see the module docstring for the rules.

    Rows come problems first (in :class:`Status` order), then by normalised login and e-mail,
    so the same input always gives the same table. ``app_name`` and ``hub_name`` are used in
    the hints ("Change the e-mail of bob in the invoicing app ...").
    """
    with collector_paused():
        return _Matcher(list(hub_users), list(app_users), app_name, hub_name).run()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a big table is built.

    The matching allocates a few objects per user and creates no reference cycles, so
    nothing is lost; without this, collections triggered by the allocations cost about
    40 % of the run time at 100,000 users per side. Reference counting still frees memory.

    On the way out, what was allocated meanwhile is moved straight to the oldest generation
    (``gc.freeze()`` then ``gc.unfreeze()``: two list splices) rather than left in the
    youngest one, whose next collection, due at the first allocation after ``gc.enable()``,
    would otherwise walk every new object: a third of a second at 1,000,000 users per side.
    They are scanned by the next full collection, as any survivor would be. Skipped when the
    process keeps objects frozen itself (``gc.get_freeze_count()``), so those stay frozen.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


class _KeyIndex:
    """Users of one side by one normalised key: ``first`` maps each key to a user, ``dups``
    lists every user of the keys held by more than one. Empty keys link nobody."""

    __slots__ = ("dups", "first")

    def __init__(self, keys: list[str], positions: list[int]) -> None:
        # ``positions`` is ``list(range(len(keys)))``, shared by a side's two indexes so the
        # int objects are made once. Built in C; later users win for repeated keys.
        first = dict(zip(keys, positions, strict=True))
        self.first = first
        self.dups: dict[str, list[int]] = {}
        if len(first) != len(keys):
            # The users that are not the last of their key, found in C (set operations on
            # ints, no second lookup of every key); buckets stay in input order.
            last = set(first.values())
            dups = self.dups
            for i in filterfalse(last.__contains__, positions):
                key = keys[i]
                if key:
                    bucket = dups.get(key)
                    if bucket is None:
                        bucket = dups[key] = []
                    bucket.append(i)
            for key, bucket in dups.items():
                bucket.append(first[key])
        first.pop("", None)

    @classmethod
    def of_unique(cls, keys: Sequence[str], positions: Sequence[int]) -> _KeyIndex:
        """The index of the users at ``positions``, whose non-empty keys are all distinct."""
        index = cls.__new__(cls)
        index.first = dict(zip(map(keys.__getitem__, positions), positions, strict=True))
        index.first.pop("", None)
        index.dups = {}
        return index

    def get(self, key: str) -> list[int] | None:
        """Every user under ``key``, or ``None``."""
        bucket = self.dups.get(key)
        if bucket is not None:
            return bucket
        i = self.first.get(key)
        return None if i is None else [i]

    def count(self, key: str) -> int:
        """How many users hold ``key``."""
        bucket = self.dups.get(key)
        return len(bucket) if bucket is not None else int(key in self.first)


_HUB, _APP = 0, 1


class _Matcher:
    """One run of :func:`match_users`; holds the indexes so the helpers stay short."""

    def __init__(
        self,
        hub: list[DirectoryUser],
        app: list[DirectoryUser],
        app_name: str,
        hub_name: str,
        *,
        short_path: bool = True,
    ) -> None:
        #: False: every user takes the general path and every row is sorted on its full key
        #: (the tests check that both give the same table).
        self.short_path = short_path
        self.users = (hub, app)
        self.names = (hub_name, app_name)
        login, email = attrgetter("login"), attrgetter("email")
        self.logins = (normalize_keys(map(login, hub)), normalize_keys(map(login, app)))
        self.emails = (normalize_keys(map(email, hub)), normalize_keys(map(email, app)))
        hub_positions, app_positions = list(range(len(hub))), list(range(len(app)))
        # The hub's indexes are built in full only when a hub key repeats (never, for the
        # hub's own users: its logins and e-mails are unique). Otherwise a set proves the
        # keys distinct and run() indexes only the hub users off the short path (see there).
        self.hub_deferred = [
            short_path and not _repeats(self.logins[_HUB]),
            short_path and not _repeats(self.emails[_HUB]),
        ]
        self.by_login = (
            _KeyIndex.of_unique([], []) if self.hub_deferred[0] else _KeyIndex(self.logins[_HUB], hub_positions),
            _KeyIndex(self.logins[_APP], app_positions),
        )
        self.by_email = (
            _KeyIndex.of_unique([], []) if self.hub_deferred[1] else _KeyIndex(self.emails[_HUB], hub_positions),
            _KeyIndex(self.emails[_APP], app_positions),
        )
        self._first_cache: dict[tuple[int, int, str], int] = {}

    # -- classification ------------------------------------------------------------------

    def run(self) -> list[PairingRow]:
        """Every row, in table order.

        Paired rows, nine in ten in a healthy directory, take a short path: they are built
        without a sort key tuple and sorted on their normalised hub login alone, which gives
        the same order as the full key, because a paired row's hub login is non-empty and
        held by no other hub user (a repeated one puts its users in conflict), and paired
        rows come last. The other rows are sorted on the full key as before.

        A short-path pair is alone with its two keys: no other user of either side holds
        them (either would make them repeated). So no later lookup is ever made with those
        keys, and the hub's deferred indexes hold only the other hub users (one in ten).
        """
        # The hot loop: local names and inlined checks, because it runs once per user.
        hub, app = self.users
        hub_login, app_login = self.logins
        hub_email, app_email = self.emails
        hub_first_login, hub_dup_login = self.by_login[_HUB].first, self.by_login[_HUB].dups
        hub_first_email, hub_dup_email = self.by_email[_HUB].first, self.by_email[_HUB].dups
        app_first_login, app_dup_login = self.by_login[_APP].first, self.by_login[_APP].dups
        app_first_email, app_dup_email = self.by_email[_APP].first, self.by_email[_APP].dups
        # A hub user whose key another hub user, or several app users, hold is in conflict.
        dup_login = hub_dup_login.keys() | app_dup_login.keys()
        dup_email = hub_dup_email.keys() | app_dup_email.keys()
        paired = Status.PAIRED
        new, set_fields = object.__new__, _ROW_SETTERS
        set_status, set_hub, set_app, set_hint, set_case, set_group = set_fields
        keyed: list[tuple[tuple[object, ...], PairingRow]] = []
        paired_keys: list[str] = []
        paired_rows: list[PairingRow] = []
        add_key, add_row = paired_keys.append, paired_rows.append
        app_done = bytearray(len(app))
        conflicted: list[tuple[int, int]] = []
        # Each hub login looked up in the app's index at once, in C.
        by_login: Iterable[int | None] = map(app_first_login.get, hub_login)

        rest: list[int] = []  # hub users off the short path, for the second pass
        if not self.short_path:  # no first pass: every hub user goes to the second
            rest, by_login = list(range(len(hub))), ()
        for i, user, login, email, j in zip(range(len(hub)), hub, hub_login, hub_email, by_login, strict=False):
            if login in dup_login or email in dup_email:
                rest.append(i)
                continue
            if j is not None and email and app_email[j] == email:
                # Login and e-mail both name app user j (the e-mail is held by nobody else),
                # and neither key is repeated on either side: j's keys are i's, so j reaches
                # nobody but i. The usual case.
                app_done[j] = 1
                other = app[j]
                if user.login == other.login and user.email == other.email and user.active and other.active:
                    # PairingRow(paired, user, other, _PAIRED_HINT), without the frozen __init__.
                    row = new(PairingRow)
                    set_status(row, paired)
                    set_hub(row, user)
                    set_app(row, other)
                    set_hint(row, _PAIRED_HINT)
                    set_case(row, False)
                    set_group(row, None)
                else:
                    row = self._pair(i, j)  # paired, differing in case or inactive
                add_key(login)
                add_row(row)
                continue
            rest.append(i)

        for kind, keys, index in ((0, hub_login, self.by_login[_HUB]), (1, hub_email, self.by_email[_HUB])):
            if self.hub_deferred[kind]:
                index.first = hub_first = _KeyIndex.of_unique(keys, rest).first
                if kind == 0:
                    hub_first_login = hub_first
                else:
                    hub_first_email = hub_first

        for i in rest:
            user, login, email = hub[i], hub_login[i], hub_email[i]
            if login in dup_login or email in dup_email:
                conflicted.append((_HUB, i))
                continue
            j = app_first_login.get(login)
            by_mail = app_first_email.get(email)
            if j is None:
                j = by_mail
                if j is None:
                    row = self._missing(Status.MISSING_IN_APP, user, None)
                    keyed.append((self._key(_HUB, i, _MISSING_IN_APP), row))
                    continue
            elif by_mail is not None and by_mail != j:
                conflicted.append((_HUB, i))  # the login names one app user, the e-mail another
                continue
            # The candidate must reach nobody but i: no twin in the app, and any key of its
            # own that differs from i's must be unknown to the hub.
            j_login, j_email = app_login[j], app_email[j]
            if (
                j_login in app_dup_login
                or j_email in app_dup_email
                or (j_login != login and j_login in hub_first_login)
                or (j_email != email and j_email in hub_first_email)
            ):
                conflicted.append((_HUB, i))
                continue
            app_done[j] = 1
            # One key differs (or is empty): a mismatch, or paired when both keys agree after all.
            row = self._pair(i, j)
            if row.status is not paired or not self.short_path:
                keyed.append(((_RANK[row.status], login, email, user.login, user.email, _HUB, user.ref or ""), row))
                continue
            add_key(login)
            add_row(row)

        find, j = app_done.find, app_done.find(0)
        while j >= 0:  # the app users nobody claimed, found in C
            user = app[j]
            login, email = app_login[j], app_email[j]
            if (
                login in app_dup_login
                or email in app_dup_email
                or login in hub_first_login
                or email in hub_first_email
            ):
                conflicted.append((_APP, j))
            else:
                keyed.append((self._key(_APP, j, _MISSING_IN_HUB), self._missing(Status.MISSING_IN_HUB, None, user)))
            j = find(0, j + 1)

        keyed.extend(self._conflicts(conflicted))
        keyed.sort(key=_first_item)
        rows = self._number_groups(keyed)
        order = sorted(range(len(paired_keys)), key=paired_keys.__getitem__)
        rows.extend(map(paired_rows.__getitem__, order))
        return rows

    def _key(self, side: int, i: int, rank: int = 0) -> tuple[object, ...]:
        user = self.users[side][i]
        return (rank, self.logins[side][i], self.emails[side][i], user.login, user.email, side, user.ref or "")

    # -- rows of one or two users --------------------------------------------------------

    def _pair(self, i: int, j: int) -> PairingRow:
        hub_user, app_user = self.users[_HUB][i], self.users[_APP][j]
        same_login = self.logins[_HUB][i] == self.logins[_APP][j] and bool(self.logins[_HUB][i])
        same_email = self.emails[_HUB][i] == self.emails[_APP][j] and bool(self.emails[_HUB][i])
        case_only = (same_login and hub_user.login != app_user.login) or (
            same_email and hub_user.email != app_user.email
        )
        if same_login and same_email and not case_only and hub_user.active and app_user.active:
            return PairingRow(Status.PAIRED, hub_user, app_user, _PAIRED_HINT)
        hub_name, app_name = self.names
        if same_login and same_email:
            status = Status.PAIRED
            hint = _PAIRED_HINT
            if case_only:
                hint = "Paired. " + _case_note(hub_user, app_user, hub_name, app_name)
        elif same_login:
            status = Status.EMAIL_MISMATCH
            hint = (
                f"Change the e-mail of {_show(app_user.login)} in {app_name} to {_show(hub_user.email)}, "
                f"or change it in {hub_name} to {_show(app_user.email)}."
            )
        else:
            status = Status.LOGIN_MISMATCH
            hint = (
                f"Change the login {_show(app_user.login)} in {app_name} to {_show(hub_user.login)}, "
                f"or change the login {_show(hub_user.login)} in {hub_name} to {_show(app_user.login)} "
                f"(both have the e-mail {_show(hub_user.email)})."
            )
        hint += _inactive_note(hub_user, app_user, hub_name, app_name)
        if not (same_login and same_email):
            hint += _blank_note(hub_user) or _blank_note(app_user)
        return PairingRow(status, hub_user, app_user, hint, case_only)

    def _missing(self, status: Status, hub_user: DirectoryUser | None, app_user: DirectoryUser | None) -> PairingRow:
        hub_name, app_name = self.names
        if hub_user is not None:
            hint = (
                f"Create {_who(hub_user)} in {app_name} with the same login and e-mail, "
                f"or leave it if this person should not use {app_name}."
            )
        else:
            assert app_user is not None
            hint = (
                f"Create {_who(app_user)} in {hub_name} with the same login and e-mail, "
                f"or remove the account from {app_name} if this person should not switch."
            )
        person = hub_user or app_user
        assert person is not None  # a row has a hub user, an app account or both
        if not person.active:
            hint += " This account is inactive; it may not need fixing."
        return PairingRow(status, hub_user, app_user, hint + _blank_note(person))

    # -- conflicts -----------------------------------------------------------------------

    def _conflicts(self, conflicted: list[tuple[int, int]]) -> list[tuple[tuple[object, ...], PairingRow]]:
        """Split the conflicted users into connected groups and lay each group out as rows."""
        seen: tuple[set[int], set[int]] = (set(), set())  # per side
        seen_keys: tuple[set[str], set[str]] = (set(), set())  # logins, e-mails
        keys, indexes = (self.logins, self.emails), (self.by_login, self.by_email)
        out: list[tuple[tuple[object, ...], PairingRow]] = []
        for start in conflicted:
            if start[1] in seen[start[0]]:
                continue
            members: list[tuple[int, int]] = []
            queue = deque([start])
            seen[start[0]].add(start[1])
            while queue:
                side, i = member = queue.popleft()
                members.append(member)
                for kind in (0, 1):
                    key = keys[kind][side][i]
                    if not key or key in seen_keys[kind]:
                        continue
                    seen_keys[kind].add(key)
                    for other_side in (_HUB, _APP):
                        index, done = indexes[kind][other_side], seen[other_side]
                        bucket = index.dups.get(key)
                        if bucket is None:
                            k = index.first.get(key)
                            if k is None:
                                continue
                            bucket = [k]
                        for k in bucket:
                            if k not in done:
                                done.add(k)
                                queue.append((other_side, k))
            out.extend(self._group_rows(members))
        return out

    def _group_rows(self, members: list[tuple[int, int]]) -> list[tuple[tuple[object, ...], PairingRow]]:
        """Rows of one conflict group: best candidates side by side, the rest alone."""
        hubs = sorted((i for side, i in members if side == _HUB), key=lambda i: self._key(_HUB, i))
        apps = sorted((j for side, j in members if side == _APP), key=lambda j: self._key(_APP, j))
        # Local indexes built from the sorted members, so the layout does not depend on input order.
        by_pair: dict[tuple[str, str], list[int]] = {}
        by_login: dict[str, list[int]] = {}
        by_email: dict[str, list[int]] = {}
        for j in apps:
            login, email = self.logins[_APP][j], self.emails[_APP][j]
            by_pair.setdefault((login, email), []).append(j)
            by_login.setdefault(login, []).append(j)
            by_email.setdefault(email, []).append(j)
        taken: set[int] = set()
        cursors: dict[tuple[int, object], int] = {}

        def take(kind: int, key: object, bucket: Sequence[int] | None) -> int | None:
            # Cursor per key: each bucket is walked once in all, so the group stays linear.
            if not bucket:
                return None
            pos = cursors.get((kind, key), 0)
            while pos < len(bucket) and bucket[pos] in taken:
                pos += 1
            cursors[(kind, key)] = pos
            return bucket[pos] if pos < len(bucket) else None

        partner: dict[int, int] = {}
        for kind in (2, 0, 1):  # full matches first, then same login, then same e-mail
            for i in hubs:
                if i in partner:
                    continue
                login, email = self.logins[_HUB][i], self.emails[_HUB][i]
                if kind == 2:
                    found = take(2, (login, email), by_pair.get((login, email)) if login and email else None)
                elif kind == 0:
                    found = take(0, login, by_login.get(login) if login else None)
                else:
                    found = take(1, email, by_email.get(email) if email else None)
                if found is not None:
                    partner[i] = found
                    taken.add(found)

        rows: list[tuple[int | None, int | None]] = [(i, partner.get(i)) for i in hubs]
        rows += [(None, j) for j in apps if j not in taken]
        first_key = self._key(_HUB, hubs[0]) if hubs else self._key(_APP, apps[0])
        out: list[tuple[tuple[object, ...], PairingRow]] = []
        for position, (h, a) in enumerate(rows):
            hub_user = self.users[_HUB][h] if h is not None else None
            app_user = self.users[_APP][a] if a is not None else None
            case_only = False
            if h is not None and a is not None and hub_user is not None and app_user is not None:
                case_only = (self.logins[_HUB][h] == self.logins[_APP][a] and hub_user.login != app_user.login) or (
                    self.emails[_HUB][h] == self.emails[_APP][a] and hub_user.email != app_user.email
                )
            hint = self._conflict_hint(h, a, len(rows))
            row = PairingRow(Status.CONFLICT, hub_user, app_user, hint, case_only, group=0)
            out.append(((_RANK[Status.CONFLICT], first_key, position), row))
        return out

    def _conflict_hint(self, i: int | None, j: int | None, group_size: int) -> str:
        reasons: list[str] = []
        inactive = False
        for side, k in ((_HUB, i), (_APP, j)):
            if k is None:
                continue
            user, place = self.users[side][k], self.names[side]
            inactive = inactive or not user.active
            other, other_place = 1 - side, self.names[1 - side]
            login, email = self.logins[side][k], self.emails[side][k]
            # Only repeated keys have a bucket (of two or more users).
            bucket = self.by_login[side].dups.get(login)
            if bucket is not None:
                reasons.append(f"{len(bucket)} accounts in {place} have the login {_show(user.login)}")
            bucket = self.by_email[side].dups.get(email)
            if bucket is not None:
                reasons.append(f"{len(bucket)} accounts in {place} have the e-mail {_show(user.email)}")
            login_match = self.by_login[other].get(login) if login else None
            email_match = self.by_email[other].get(email) if email else None
            if login_match and email_match and set(login_match) != set(email_match):
                a = self.users[other][self._first(other, 0, login, login_match)]
                b = self.users[other][self._first(other, 1, email, email_match)]
                reasons.append(
                    f"in {other_place} the login {_show(user.login)} belongs to {_show(a.login)} "
                    f"({_show(a.email)}) but the e-mail {_show(user.email)} belongs to {_show(b.login)}"
                )
        unique = list(dict.fromkeys(reasons))
        hub_name, app_name = self.names
        if unique:
            text = "Conflict: " + "; ".join(unique[:3]) + "."
        else:
            text = "Conflict: " + self._link_note(i, j, group_size) + "."
        text += (
            f" Give each person one login and one e-mail, unique and the same in {hub_name} and {app_name}."
        )
        if inactive:
            text += " An inactive account is involved; it may be the one to remove."
        return text

    def _first(self, side: int, kind: int, key: str, bucket: list[int]) -> int:
        """The first user of a bucket in table order (cached: big buckets are shared by many rows)."""
        cache = self._first_cache
        found = cache.get((side, kind, key))
        if found is None:
            found = cache[(side, kind, key)] = min(bucket, key=lambda k: self._key(side, k))
        return found

    def _link_note(self, i: int | None, j: int | None, group_size: int) -> str:
        """Why a user with no conflict of its own is in a conflict group: who it is linked to."""
        side, k = (_HUB, i) if i is not None else (_APP, j)
        assert k is not None
        user, other = self.users[side][k], 1 - side
        for field, keys, indexes in (("login", self.logins, self.by_login), ("e-mail", self.emails, self.by_email)):
            key = keys[side][k]
            bucket = indexes[other].get(key) if key else None
            if bucket:
                match = self.users[other][self._first(other, 0 if field == "login" else 1, key, bucket)]
                value = user.login if field == "login" else user.email
                return (
                    f"the {field} {_show(value)} matches {_show(match.login)} in {self.names[other]}, "
                    f"which is linked to other accounts too ({group_size} rows in this group)"
                )
        return f"this account shares a login or e-mail with accounts in conflict ({group_size} rows in this group)"

    @staticmethod
    def _number_groups(keyed: list[tuple[tuple[object, ...], PairingRow]]) -> list[PairingRow]:
        """The rows in order, conflict groups numbered 1, 2, ... as they appear."""
        out: list[PairingRow] = []
        group, current = 0, None
        set_group = _ROW_SETTERS[5]
        for key, row in keyed:
            if row.status is Status.CONFLICT:
                if key[1] != current:
                    group, current = group + 1, key[1]
                set_group(row, group)  # the row is new and not shared yet
            out.append(row)
        return out


def _repeats(keys: list[str]) -> bool:
    """True when a non-empty key occurs more than once."""
    distinct = set(keys)
    distinct.discard("")
    return len(distinct) + keys.count("") != len(keys)


_first_item = itemgetter(0)
#: The slot setters of PairingRow in field order: rows built in bulk skip the frozen
#: dataclass's ``__init__`` (one ``object.__setattr__`` call per field, twice as slow).
_ROW_SETTERS: list[Callable[[object, object], None]] = [PairingRow.__dict__[f.name].__set__ for f in fields(PairingRow)]


def _show(value: str | None, limit: int = 60) -> str:
    """A value fit for a hint: control characters escaped, long values shortened."""
    if value is None or value == "":
        return "(empty)"
    if not value.isprintable():
        value = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def _who(user: DirectoryUser) -> str:
    return f"{_show(user.login)} ({_show(user.email)})"


def _case_note(hub: DirectoryUser, app: DirectoryUser, hub_name: str, app_name: str) -> str:
    parts = []
    if hub.login != app.login:
        parts.append(f"the login is {_show(repr(hub.login))} in {hub_name} and {_show(repr(app.login))} in {app_name}")
    if hub.email != app.email:
        parts.append(f"the e-mail is {_show(repr(hub.email))} in {hub_name} and {_show(repr(app.email))} in {app_name}")
    return (
        "Only letter case or surrounding spaces differ: "
        + "; ".join(parts)
        + ". You may align them, but nothing needs fixing."
    )


def _inactive_note(hub: DirectoryUser, app: DirectoryUser, hub_name: str, app_name: str) -> str:
    where = [name for user, name in ((hub, hub_name), (app, app_name)) if not user.active]
    if not where:
        return ""
    return f" The account is inactive in {' and '.join(where)}."


def _blank_note(user: DirectoryUser | None) -> str:
    if user is None or (normalise(user.login) and normalise(user.email)):
        return ""
    return " Its login or e-mail is empty: fill it in first."
