"""Showing and exporting pairing rows: filter, search, page, safe text, CSV and JSON.

Pure functions (no Flask): the page, the exports and the CLI share them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence

from .departments import DepartmentIndex
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
#: Added after :data:`EXPORT_FIELDS` when the app's groups are known (as on the page): each
#: side's departments and ``department_status``: ``match``, ``mismatch`` (among the departments
#: both systems know) or empty/``null`` when the row lacks a side to compare.
DEPARTMENT_FIELDS: tuple[str, ...] = ("hub_departments", "app_departments", "department_status")
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


def _compared(departments: DepartmentIndex | None) -> DepartmentIndex | None:
    """``departments`` when the app's groups are known, else None (no department columns)."""
    return departments if departments is not None and departments.app_groups is not None else None


def _department_values(row: PairingRow, departments: DepartmentIndex) -> tuple[list[str], list[str], str | None]:
    deps = departments.of(row)
    status = ("mismatch" if deps.mismatch else "match") if deps.known else None
    return list(deps.hub), list(deps.app), status


def to_json(rows: Iterable[PairingRow], departments: DepartmentIndex | None = None) -> str:
    """The rows as a JSON array of objects with :data:`EXPORT_FIELDS` (``null`` where absent),
    plus :data:`DEPARTMENT_FIELDS` (lists of group names) when ``departments`` knows the app's groups."""
    compared = _compared(departments)
    return json.dumps([_export_dict(row, compared) for row in rows], ensure_ascii=False)


def _export_dict(row: PairingRow, departments: DepartmentIndex | None = None) -> dict[str, object]:
    data = row.to_dict()
    out = {k: data[k] for k in EXPORT_FIELDS}
    if departments is not None:
        out.update(zip(DEPARTMENT_FIELDS, _department_values(row, departments), strict=True))
    return out


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


def to_csv(rows: Iterable[PairingRow], departments: DepartmentIndex | None = None) -> str:
    """The rows as CSV with a header of :data:`EXPORT_FIELDS` (plus :data:`DEPARTMENT_FIELDS`,
    group names joined with ``"; "``, when ``departments`` knows the app's groups);
    formula-like cells are defused."""
    compared = _compared(departments)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_FIELDS + (DEPARTMENT_FIELDS if compared is not None else ()))
    for row in rows:
        data = row.to_dict()
        cells = [_cell(data[k]) for k in EXPORT_FIELDS]  # every cell, the hint included
        if compared is not None:
            hub, app, status = _department_values(row, compared)
            cells += [_cell("; ".join(hub)), _cell("; ".join(app)), _cell(status)]
        writer.writerow(cells)
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
