"""The stored report (one per snapshot version, shared by every worker) decodes to the same rows."""

from __future__ import annotations

from user_pairing import DirectoryUser, match_users
from user_pairing.service import pack_rows, unpack_rows


def test_pack_and_unpack_give_the_same_rows_for_every_status_and_hostile_values() -> None:
    hub = [
        DirectoryUser("bob", "bob@example.com", "Bob", True, "1"),
        DirectoryUser("carol", "carol@example.com", None, True, "2"),
        DirectoryUser("dave", "dave@example.com", "Dave\u202e\x1b[31m", False, "3"),
        DirectoryUser("twin", "twin@example.com", "T", True, "4"),
        DirectoryUser("TWIN", "twin2@example.com", "T2", True, "5"),
        DirectoryUser("erin", "erin@example.com", "Erin", True, "6"),
        DirectoryUser("bad\ud800", "bad@example.com", "=cmd|' /C calc'!A0", True, "7"),
    ]
    app = [
        DirectoryUser("bob", "bob@old.example", "Bob", True, "a1"),
        DirectoryUser("caroline", "carol@example.com", None, True, "a2"),
        DirectoryUser("twin", "twin@example.com", None, True, "a4"),
        DirectoryUser(" ERIN", "ERIN@example.com", "Erin", False, None),
        DirectoryUser("frank", "", None, True, "a9"),
    ]
    rows = match_users(hub, app, app_name="Invoices")
    assert {r.status.value for r in rows} >= {"email_mismatch", "login_mismatch", "missing_in_app",
                                              "missing_in_hub", "conflict", "paired"}
    back = unpack_rows(pack_rows(rows))
    assert back == rows
    assert [type(r.status) for r in back] == [type(r.status) for r in rows]
    assert all(r.group == s.group and r.hint == s.hint for r, s in zip(back, rows, strict=True))
    assert unpack_rows(pack_rows([])) == []
