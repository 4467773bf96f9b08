"""The pairing rules of issue 5, on small tables an admin could read."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import user_pairing
from sso.base.identity import normalize_key
from user_pairing.matching import DirectoryUser, PairingRow, Status, counts, match_users, normalise

U = DirectoryUser
APP = "the invoicing app"


def match(hub: list[DirectoryUser], app: list[DirectoryUser]) -> list[PairingRow]:
    return match_users(hub, app, app_name=APP, hub_name="the hub")


def only(rows: list[PairingRow]) -> PairingRow:
    assert len(rows) == 1, rows
    return rows[0]


# -- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Bob", "bob"),
        ("  bob\t", "bob"),
        ("\u00a0bob\u00a0", "bob"),  # no-break spaces around
        ("Jos\u00e9", "jose\u0301"),  # NFC vs NFD
        ("stra\u00dfe", "STRASSE"),  # ß casefolds to ss
        ("STRA\u1e9eE", "strasse"),  # capital sharp s
        ("BOB@Example.COM", "bob@example.com"),
        ("stra\u00df\u0301e", "stras\u015be"),  # folding decomposes, NFC composes again
        ("\x1cbob\x1f", "bob"),  # str.strip() takes U+001C..U+001F as white space too
        ("\u3000bob\u2028", "BOB"),
    ],
)
def test_normalise_treats_as_equal(a: str, b: str) -> None:
    assert normalise(a) == normalise(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("bob", "bo b"),
        ("bob", "bob2"),
        ("jose", "jos\u00e9"),
        ("b\u200bob", "bob"),  # a zero-width space is no white space
        ("\u0131", "i"),  # Turkish dotless i
        ("\uff42ob", "bob"),  # fullwidth b: no compatibility mapping
    ],
)
def test_normalise_keeps_real_differences(a: str, b: str) -> None:
    assert normalise(a) != normalise(b)


def test_normalise_of_empty_and_none() -> None:
    assert normalise(None) == "" == normalise("  \t ")


def test_normalise_is_the_hubs_rule() -> None:
    assert normalise is normalize_key
    assert user_pairing.normalise is normalize_key


@pytest.mark.parametrize(
    ("hub", "app"),
    [
        ("bob ", "\u00a0BOB"),  # the hub's value takes the ASCII shortcut, the app's does not
        ("\x1cbob", "bob\u2029"),
        ("stras\u015be", "stra\u00df\u0301e"),
    ],
)
def test_ascii_and_unicode_forms_of_one_value_pair(hub: str, app: str) -> None:
    row = only(match([U(hub, "x@example.com")], [U(app, "X@example.com")]))
    assert row.status is Status.PAIRED


# -- each status -----------------------------------------------------------------------------


def test_paired_when_login_and_email_equal() -> None:
    row = only(match([U("bob", "bob@example.com")], [U("bob", "bob@example.com", ref="7")]))
    assert row.status is Status.PAIRED
    assert not row.case_only_difference
    assert row.app is not None and row.app.ref == "7"
    assert "nothing to fix" in row.hint


def test_case_and_space_only_difference_is_paired_with_both_raw_values() -> None:
    row = only(match([U(" Bob", "Bob@Example.com")], [U("bob", "bob@example.com\t")]))
    assert row.status is Status.PAIRED
    assert row.case_only_difference
    assert row.hub is not None and row.hub.login == " Bob" and row.hub.email == "Bob@Example.com"
    assert row.app is not None and row.app.login == "bob" and row.app.email == "bob@example.com\t"
    assert "' Bob'" in row.hint and "'bob'" in row.hint


def test_unicode_forms_pair() -> None:
    row = only(match([U("Jos\u00e9", "jos\u00e9@example.com")], [U("jose\u0301", "JOSE\u0301@example.com")]))
    assert row.status is Status.PAIRED and row.case_only_difference


def test_email_mismatch_hint_names_both_systems() -> None:
    row = only(match([U("bob", "bob@example.com")], [U("bob", "bob@old.example")]))
    assert row.status is Status.EMAIL_MISMATCH
    assert row.hint == (
        "Change the e-mail of bob in the invoicing app to bob@example.com, "
        "or change it in the hub to bob@old.example."
    )


def test_login_mismatch_hint() -> None:
    row = only(match([U("bob", "bob@example.com")], [U("bobby", "BOB@example.com")]))
    assert row.status is Status.LOGIN_MISMATCH
    assert "Change the login bobby in the invoicing app to bob" in row.hint
    assert "change the login bob in the hub to bobby" in row.hint
    assert row.case_only_difference  # the e-mails differ in case only


def test_missing_in_app_and_missing_in_hub() -> None:
    rows = match([U("ann", "ann@example.com")], [U("zed", "zed@example.com")])
    by_status = {r.status: r for r in rows}
    assert set(by_status) == {Status.MISSING_IN_APP, Status.MISSING_IN_HUB}
    assert by_status[Status.MISSING_IN_APP].app is None
    assert "Create ann (ann@example.com) in the invoicing app" in by_status[Status.MISSING_IN_APP].hint
    assert by_status[Status.MISSING_IN_HUB].hub is None
    assert "Create zed (zed@example.com) in the hub" in by_status[Status.MISSING_IN_HUB].hint


def test_conflict_login_matches_one_user_and_email_another() -> None:
    rows = match([U("eve", "eve@example.com")], [U("eve", "other@example.com"), U("evie", "eve@example.com")])
    assert [r.status for r in rows] == [Status.CONFLICT, Status.CONFLICT]
    assert {r.group for r in rows} == {1}
    first = rows[0]
    assert first.hub is not None and first.app is not None and first.app.login == "eve"
    assert "the login eve belongs to eve" in first.hint and "belongs to evie" in first.hint
    assert rows[1].hub is None and rows[1].app is not None and rows[1].app.login == "evie"
    assert "matches eve in the hub" in rows[1].hint


def test_conflict_duplicates_in_hub() -> None:
    rows = match([U("f1", "dup@example.com"), U("F2", "DUP@example.com")], [U("f1", "dup@example.com")])
    assert counts(rows)[Status.CONFLICT] == 2
    assert all("2 accounts in the hub have the e-mail" in r.hint for r in rows)
    # the exact match is laid side by side, the duplicate alone
    assert rows[0].hub is not None and rows[0].hub.login == "f1" and rows[0].app is not None
    assert rows[1].hub is not None and rows[1].hub.login == "F2" and rows[1].app is None


def test_conflict_duplicates_in_app_only() -> None:
    rows = match([], [U("kim", "kim@example.com"), U("KIM ", "kim2@example.com")])
    assert [r.status for r in rows] == [Status.CONFLICT] * 2
    assert all("2 accounts in the invoicing app have the login" in r.hint for r in rows)


def test_separate_conflicts_get_separate_groups() -> None:
    hub = [U("a", "x@example.com"), U("b", "x@example.com"), U("c", "y@example.com"), U("d", "y@example.com")]
    rows = match(hub, [])
    assert [r.group for r in rows] == [1, 1, 2, 2]


def test_empty_email_does_not_link_users() -> None:
    rows = match([U("a", ""), U("b", " ")], [U("a", "")])
    # two users without e-mail are not duplicates of each other
    assert [r.status for r in rows] == [Status.EMAIL_MISMATCH, Status.MISSING_IN_APP]
    assert all("empty" in r.hint for r in rows)


def test_inactive_users_are_marked() -> None:
    hub = [U("bob", "bob@example.com"), U("gus", "gus@example.com", active=False)]
    rows = match(hub, [U("bob", "bob@example.com", active=False)])
    bob = next(r for r in rows if r.hub is not None and r.hub.login == "bob")
    gus = next(r for r in rows if r.hub is not None and r.hub.login == "gus")
    assert bob.inactive and "inactive in the invoicing app" in bob.hint
    assert gus.inactive and gus.status is Status.MISSING_IN_APP and "inactive" in gus.hint
    assert bob.to_dict()["app_active"] is False


def test_hostile_values_are_escaped_and_shortened_in_hints() -> None:
    long = "x" * 5000
    row = only(match([U("bob\x1b[31m", long + "@example.com")], []))
    assert "\x1b" not in row.hint and "\\x1b" in row.hint
    assert len(row.hint) < 400
    assert row.hub is not None and row.hub.email.startswith(long)  # raw value kept for the page


def test_order_is_deterministic_and_problems_first() -> None:
    hub = [U("zoe", "zoe@example.com"), U("amy", "amy@example.com"), U("bob", "bob@example.com")]
    app = [U("bob", "bob@old.example"), U("zoe", "zoe@example.com"), U("cat", "cat@example.com")]
    rows = match(hub, app)
    assert [r.status for r in rows] == [
        Status.EMAIL_MISMATCH,
        Status.MISSING_IN_APP,
        Status.MISSING_IN_HUB,
        Status.PAIRED,
    ]
    assert rows == match(list(reversed(hub)), list(reversed(app)))


def test_counts_has_every_status() -> None:
    result = counts(match([U("a", "a@example.com")], [U("a", "a@example.com")]))
    assert result == {s: (1 if s is Status.PAIRED else 0) for s in Status}


def test_to_dict_has_export_fields() -> None:
    data = only(match([U("ann", "ann@example.com")], [])).to_dict()
    assert data["status"] == "missing_in_app"
    assert data["app_login"] is None and data["app_email"] is None
    assert {"status", "hub_login", "hub_email", "app_login", "app_email", "hint"} <= set(data)


def test_large_duplicate_group_stays_fast() -> None:
    # 3000 users sharing one e-mail on each side: must not go quadratic.
    hub = [U(f"h{i}", "same@example.com") for i in range(3000)]
    app = [U(f"h{i}", "same@example.com") for i in range(3000)]
    rows = match(hub, app)
    assert len(rows) == 3000 and counts(rows)[Status.CONFLICT] == 3000
    assert all(r.hub is not None and r.app is not None and r.hub.login == r.app.login for r in rows)


# -- invariant -------------------------------------------------------------------------------

_logins = st.sampled_from(["a", "A", " a", "b", "B\t", "c", "stra\u00dfe", "STRASSE", "", "d"])
_emails = st.sampled_from(["a@x", "A@X", "b@x", "c@x", "", "jos\u00e9@x", "jose\u0301@x", "d@x"])
_users = st.lists(st.builds(U, _logins, _emails, active=st.booleans()), max_size=12)


@settings(max_examples=300, deadline=None)
@given(_users, _users)
def test_every_user_appears_in_exactly_one_row(hub: list[DirectoryUser], app: list[DirectoryUser]) -> None:
    # Tag each user so that equal values stay distinguishable.
    hub = [U(u.login, u.email, active=u.active, ref=f"h{i}") for i, u in enumerate(hub)]
    app = [U(u.login, u.email, active=u.active, ref=f"a{i}") for i, u in enumerate(app)]
    rows = match(hub, app)
    seen_hub = Counter(r.hub.ref for r in rows if r.hub is not None)
    seen_app = Counter(r.app.ref for r in rows if r.app is not None)
    assert seen_hub == Counter(u.ref for u in hub)
    assert seen_app == Counter(u.ref for u in app)
    assert sum(counts(rows).values()) == len(rows)
    for row in rows:
        assert row.hint
        if row.status is Status.PAIRED:
            assert row.hub and row.app
            assert normalise(row.hub.login) == normalise(row.app.login) != ""
            assert normalise(row.hub.email) == normalise(row.app.email) != ""
        elif row.status is Status.MISSING_IN_APP:
            assert row.app is None and row.hub is not None
        elif row.status is Status.MISSING_IN_HUB:
            assert row.hub is None and row.app is not None
        elif row.status in (Status.EMAIL_MISMATCH, Status.LOGIN_MISMATCH):
            assert row.hub and row.app
        if row.status is not Status.CONFLICT:
            # a non-conflict user shares no key with anybody outside its row
            mine = {id(u) for u in (row.hub, row.app) if u is not None}
            keys = {(f, normalise(getattr(u, f))) for u in (row.hub, row.app) if u for f in ("login", "email")}
            keys = {k for k in keys if k[1]}
            for other in hub + app:
                if id(other) not in mine:
                    assert not any((f, normalise(getattr(other, f))) in keys for f in ("login", "email"))
    # Same input in another order: same table.
    assert [r.to_dict() for r in match(list(reversed(hub)), list(reversed(app)))] == [r.to_dict() for r in rows]


_refs = st.one_of(st.none(), st.sampled_from(["r1", "r2", "r3"]))
_any_users = st.lists(st.builds(U, _logins, _emails, active=st.booleans(), ref=_refs), max_size=14)
# Distinct keys on the hub (as the hub's own users are): the case where the hub's indexes are
# built only for the users off the short path.
_hub_unique = st.lists(st.sampled_from(range(8)), unique=True, max_size=8).map(
    lambda ns: [U(f"u{n}" if n % 3 else f"U{n} ", f"u{n}@x" if n % 4 else f"U{n}@X", active=n != 5) for n in ns]
)
_app_near = st.lists(
    st.builds(
        U,
        st.sampled_from(["u0", "U1", "u2", "u3", "u4", "u5", "u6", "u9", ""]),
        st.sampled_from(["u0@x", "u1@X", "u2@x", "u3@x", "u4@x", "u5@x", "u7@x", ""]),
        active=st.booleans(),
        ref=_refs,
    ),
    max_size=10,
)


def _general_path_only(hub: list[DirectoryUser], app: list[DirectoryUser]) -> list[PairingRow]:
    from user_pairing.matching import _Matcher

    return _Matcher(hub, app, "the app", "the hub", short_path=False).run()


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.tuples(_any_users, _any_users), st.tuples(_hub_unique, _app_near)))
def test_short_path_gives_the_same_table_as_the_general_path(sides: tuple[list[DirectoryUser], ...]) -> None:
    # The short path for plain pairs (and its sort on the login alone, and the hub indexes
    # restricted to the other users) is an optimisation: the table must not change.
    hub, app = sides
    fast = match_users(hub, app, app_name="the app")
    slow = _general_path_only(hub, app)
    assert [r.to_dict() for r in fast] == [r.to_dict() for r in slow]


def test_collector_paused_restores_the_collector_and_keeps_frozen_objects_frozen() -> None:
    import gc

    from user_pairing.matching import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # it was off: it stays off
    finally:
        gc.enable()
    gc.freeze()  # a process that keeps its objects frozen (say, before forking workers)
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with collector_paused():
            [object() for _ in range(10)]
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
