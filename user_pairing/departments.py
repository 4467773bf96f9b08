"""Departments on the pairing page: the hub user's groups against the app user's groups.

A department is a group. Groups are compared by name after the hub's one normalisation
(:func:`sso.base.identity.normalize_key`: ``" finance"`` and ``"Finance"`` agree), and only
over the departments both systems know: a hub group the app does not have (or an app group
the hub does not have) is shown but never counted as a mismatch, because neither fix could
act on it.

Pure functions (no Flask, no database): the service feeds them the hub's memberships and
the snapshot's groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sso.base.identity import normalize_key

from .matching import PairingRow
from .sources import DirectoryGroup


@dataclass(frozen=True)
class Departments:
    """The departments of one pairing row.

    ``hub`` and ``app`` are the group names each side holds (all of them, sorted).
    ``add_in_app`` / ``remove_in_app`` say what "change in the app" does (names as the app
    spells them); ``add_in_hub`` / ``remove_in_hub`` what "change in the hub" does (names as
    the hub spells them). ``known`` is False when the app's groups are not known (its
    directory offers none, or the row lacks one side): nothing is compared then.
    """

    hub: tuple[str, ...]
    app: tuple[str, ...]
    known: bool
    add_in_app: tuple[str, ...] = ()
    remove_in_app: tuple[str, ...] = ()
    add_in_hub: tuple[str, ...] = ()
    remove_in_hub: tuple[str, ...] = ()

    @property
    def mismatch(self) -> bool:
        return bool(self.add_in_app or self.remove_in_app)


class DepartmentIndex:
    """What the comparison needs, built once per report.

    ``hub_groups``: every hub group name. ``hub_members``: hub user id (as text, the
    ``ref`` of a hub :class:`~user_pairing.matching.DirectoryUser`) -> group names.
    ``app_groups``: the app's groups, or None when its directory offers none.
    """

    def __init__(
        self,
        hub_groups: Sequence[str],
        hub_members: Mapping[str, Sequence[str]],
        app_groups: Sequence[DirectoryGroup] | None,
    ) -> None:
        self.hub_members = hub_members
        self.app_groups = app_groups
        self._app_by_ref: dict[str, list[str]] = {}
        for group in app_groups or ():
            for ref in group.members:
                self._app_by_ref.setdefault(ref, []).append(group.name)
        self._hub_names = {normalize_key(n): n for n in hub_groups}
        self._app_names = {normalize_key(g.name): g.name for g in app_groups or ()}
        #: The normalised names of the departments both systems know.
        self.shared = frozenset(self._hub_names) & frozenset(self._app_names)
        self._hub_keys: dict[str, frozenset[str]] | None = None
        self._app_keys: dict[str, frozenset[str]] | None = None

    def _shared_keys(self, by_ref: Mapping[str, Sequence[str]]) -> dict[str, frozenset[str]]:
        # Users share a few combinations of departments: each combination is normalised once.
        seen: dict[tuple[str, ...], frozenset[str]] = {}
        shared = self.shared
        out: dict[str, frozenset[str]] = {}
        for ref, names in by_ref.items():
            combo = tuple(names)
            found = seen.get(combo)
            if found is None:
                found = seen[combo] = frozenset(k for k in map(normalize_key, combo) if k in shared)
            if found:
                out[ref] = found
        return out

    def mismatch(self, row: PairingRow) -> bool:
        """:attr:`Departments.mismatch` of ``row``, without building the whole :class:`Departments`."""
        if self.app_groups is None or row.hub is None or row.app is None or not row.app.ref:
            return False
        if self._hub_keys is None or self._app_keys is None:
            self._hub_keys = self._shared_keys(self.hub_members)
            self._app_keys = self._shared_keys(self._app_by_ref)
        empty: frozenset[str] = frozenset()
        return self._hub_keys.get(row.hub.ref or "", empty) != self._app_keys.get(row.app.ref, empty)

    def hub_groups_named(self, key: str) -> str | None:
        """The hub's spelling of the group whose normalised name is ``key``."""
        return self._hub_names.get(key)

    def app_group(self, key: str) -> DirectoryGroup | None:
        """The app's group whose normalised name is ``key``."""
        return next((g for g in self.app_groups or () if normalize_key(g.name) == key), None)

    def of(self, row: PairingRow) -> Departments:
        """The :class:`Departments` of ``row``."""
        hub = tuple(sorted(self.hub_members.get(row.hub.ref or "", ()), key=normalize_key)) if row.hub else ()
        app = tuple(sorted(self._app_by_ref.get(row.app.ref or "", ()), key=normalize_key)) if row.app else ()
        if self.app_groups is None or row.hub is None or row.app is None or not row.app.ref:
            return Departments(hub, app, known=False)
        hub_keys = {normalize_key(n) for n in hub} & self.shared
        app_keys = {normalize_key(n) for n in app} & self.shared
        hub_names, app_names = self._hub_names, self._app_names
        return Departments(
            hub, app, known=True,
            add_in_app=_names(hub_keys - app_keys, app_names),
            remove_in_app=_names(app_keys - hub_keys, app_names),
            add_in_hub=_names(app_keys - hub_keys, hub_names),
            remove_in_hub=_names(hub_keys - app_keys, hub_names),
        )

    def mismatches(self, rows: Iterable[PairingRow]) -> list[PairingRow]:
        """The rows whose departments differ."""
        return [row for row in rows if self.mismatch(row)]


def _names(keys: Iterable[str], spelled: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(sorted((spelled[k] for k in keys), key=normalize_key))
