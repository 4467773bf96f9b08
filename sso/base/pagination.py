"""Paging helpers: a page number read from the query string without ever failing, and
:class:`Page` for lists that are not SQL queries (SQL lists use Flask-SQLAlchemy's
``db.paginate``, whose attribute names :class:`Page` shares, so one pager template serves both)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAGE = 1_000_000


def page_arg(value: str | None) -> int:
    """A page number >= 1 from untrusted text (bad values mean page 1)."""
    try:
        page = int(str(value or "1").strip())
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


@dataclass(frozen=True)
class Page:
    """Where a page of an in-memory list stands (same names as ``db.paginate``'s result)."""

    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages
