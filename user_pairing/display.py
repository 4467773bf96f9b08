"""Showing and exporting pairing rows: filter, search, page, safe text, CSV and JSON.

Pure functions (no Flask): the page, the exports and the CLI share them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence

from .matching import PairingRow, Status

#: The columns of every export, in order (the JSON rows have the same keys).
EXPORT_FIELDS: tuple[str, ...] = (
    "status",
    "hub_login",
    "hub_email",
    "hub_name",
    "hub_active",
    "app_login",
    "app_email",
    "app_name",
    "app_active",
    "app_ref",
    "case_only_difference",
    "inactive",
    "group",
    "hint",
)
MAX_QUERY = 200
# What makes a spreadsheet read a cell as a formula (the full-width forms too: some
# spreadsheet programs fold them), after any leading white space.
_FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Leading characters that spreadsheets skip or that start a new cell/line on import.
_CONTROL_START = ("\t", "\r", "\n")


def parse_status(value: str | None) -> Status | None:
    """A status filter from untrusted text; anything unknown means no filter."""
    try:
        return Status(value) if value else None
    except ValueError:
        return None


def _haystack(row: PairingRow) -> str:
    parts = []
    for user in (row.hub, row.app):
        if user is not None:
            parts += [user.login, user.email, user.name or ""]
    return "\n".join(parts).casefold()


def select_rows(rows: Sequence[PairingRow], status: Status | None = None, query: str = "") -> list[PairingRow]:
    """The rows of ``status`` (all when ``None``) whose login, e-mail or name contains ``query``."""
    needle = (query or "").strip()[:MAX_QUERY].casefold()
    out: Iterable[PairingRow] = rows if status is None else (r for r in rows if r.status is status)
    if needle:
        out = (r for r in out if needle in _haystack(r))
    return list(out)


def visible(value: str | None, limit: int = 80) -> str:
    """``value`` fit for a page or a terminal: control and invisible format characters shown as
    escapes (``\\x1b``, ``\\u202e``), shortened to ``limit`` characters with an ellipsis."""
    if value is None:
        return ""
    if len(value) > limit * 4:
        value = value[: limit * 4]  # never escape megabytes only to cut them
    if not value.isprintable():
        value = "".join(c if c.isprintable() or c == " " else _escape(c) for c in value)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def raw(value: str | None, limit: int = 80) -> str:
    """``value`` quoted, so surrounding spaces and letter case differences can be seen."""
    if value is None:
        return ""
    return '"' + visible(value, limit).replace(" ", "␠") + '"'


def to_json(rows: Iterable[PairingRow]) -> str:
    """The rows as a JSON array of objects with :data:`EXPORT_FIELDS` (``null`` where absent)."""
    return json.dumps([_export_dict(row) for row in rows], ensure_ascii=False)


def _export_dict(row: PairingRow) -> dict[str, object]:
    data = row.to_dict()
    return {k: data[k] for k in EXPORT_FIELDS}


def _formula_part(part: str) -> bool:
    return part.startswith(_CONTROL_START) or part.lstrip().startswith(_FORMULA_START)


def looks_like_formula(value: str) -> bool:
    """True when a spreadsheet could run ``value`` (or a part of it) as a formula.

    Checks the first character after leading white space (`` =cmd``, ``\t+x``), a leading
    tab or line break, and every ``;``-separated part: a spreadsheet set to split on
    semicolons (many European locales) makes ``a;=cmd`` two cells, the second a formula.
    """
    return any(_formula_part(part) for part in value.split(";"))


def defuse(value: str) -> str:
    """``value`` with an apostrophe before every part a spreadsheet would run as a formula
    (``=cmd`` -> ``'=cmd``, ``a;=cmd`` -> ``a;'=cmd``): shown as text, still readable."""
    if not looks_like_formula(value):
        return value
    return ";".join("'" + part if _formula_part(part) else part for part in value.split(";"))


def _cell(value: object) -> object:
    if isinstance(value, str):
        return defuse(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def to_csv(rows: Iterable[PairingRow]) -> str:
    """The rows as CSV with a header of :data:`EXPORT_FIELDS`; formula-like cells are defused."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_FIELDS)
    for row in rows:
        data = row.to_dict()
        writer.writerow([_cell(data[k]) for k in EXPORT_FIELDS])  # every cell, the hint included
    return out.getvalue()


def to_table(rows: Iterable[PairingRow], width: int = 32) -> str:
    """The rows as a plain text table for a terminal (values made visible and shortened)."""
    columns = ("status", "hub_login", "hub_email", "app_login", "app_email", "hint")
    lines: list[tuple[str, ...]] = [columns]
    for row in rows:
        data = row.to_dict()
        lines.append(tuple(visible(str(data[c]) if data[c] is not None else "-", 200 if c == "hint" else width)
                           for c in columns))
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])) + "  " + line[-1] for line in lines
    )
