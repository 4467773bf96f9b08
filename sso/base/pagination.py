"""Reading a page number from the query string without ever failing."""

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
    """Where a list page stands."""

    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages
