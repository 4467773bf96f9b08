"""Pure helpers of the page and exports: safe text, filters, CSV/JSON/table output."""

from __future__ import annotations

import csv
import io
import json

from user_pairing import DirectoryUser, Status, match_users
from user_pairing.display import raw, select_rows, to_csv, to_json, to_table, visible

HUB = [DirectoryUser("ann", "ann@example.com", "Ann"), DirectoryUser("bob", "bob@example.com", "Bob Baker")]
APP = [DirectoryUser(" ANN", "ann@example.com"), DirectoryUser("zed", "@zed@example.com", "=1+1")]


def test_visible_escapes_control_and_format_characters_and_shortens() -> None:
    assert visible("plain text") == "plain text"
    assert visible("a\x00b\x1b[0m\u202ec\t") == "a\\x00b\\x1b[0m\\u202ec\\x09"
    assert visible("x" * 100, 10) == "x" * 9 + "…"
    assert visible("\x07" * 10_000, 20).startswith("\\x07") and len(visible("\x07" * 10_000, 20)) == 20
    assert visible(None) == ""


def test_raw_shows_spaces_and_case() -> None:
    assert raw(" ANN") == '"␠ANN"'


def test_select_rows_filters_and_searches() -> None:
    rows = match_users(HUB, APP)
    assert [r.status for r in select_rows(rows, Status.PAIRED)] == [Status.PAIRED]
    assert len(select_rows(rows, None, "BAKER")) == 1
    assert select_rows(rows, Status.PAIRED, "zed") == []
    assert len(select_rows(rows)) == 3


def test_exports_of_the_same_rows_agree() -> None:
    rows = match_users(HUB, APP)
    data = json.loads(to_json(rows))
    table = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [d["status"] for d in data] == [t["status"] for t in table]
    zed = next(t for t in table if t["app_login"] == "zed")
    assert zed["app_email"] == "'@zed@example.com" and zed["app_name"] == "'=1+1"
    text = to_table(rows).splitlines()
    assert len(text) == 4 and text[0].startswith("status")


FORMULAS = ["=cmd", " =cmd", "\t+x", "@x", "-1+1", "  \t=1+1", "ok;=cmd", "a; +x", "b;@SUM(A1)",
            "\r=x", "\n-2", "\uff1dcmd"]
HARMLESS = ["ann", "ann@example.com", "a-b", "x=y", "a;b", "1+1", ""]


def test_csv_defuses_formulas_in_every_cell_and_every_form() -> None:
    hub = [DirectoryUser(f"h{i}", f"h{i}@example.com", value) for i, value in enumerate(FORMULAS + HARMLESS)]
    app = [DirectoryUser(value, f"a{i}@example.com") for i, value in enumerate(FORMULAS)]
    table = list(csv.reader(io.StringIO(to_csv(match_users(hub, app)))))
    cells = [cell for row in table[1:] for cell in row]
    for value in FORMULAS:
        defused = "'" + value if ";" not in value else value.replace(";", ";'", 1)
        assert defused in cells, repr(value)
        assert value not in cells, repr(value)
    for value in HARMLESS:
        assert value in cells or value == "", repr(value)
    # The hint column repeats hostile values too: no cell of the export starts a formula.
    for cell in cells:
        for part in cell.split(";"):
            assert not part.lstrip().startswith(("=", "+", "-", "@", "\uff1d")), cell
            assert not part.startswith(("\t", "\r", "\n")), cell
