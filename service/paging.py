"""One page of a long list (members, conversations), with what its page links need."""
from dataclasses import dataclass
from math import ceil


@dataclass
class Page:
    rows: list
    total: int
    criteria: object  # the list's search and filters, with `page` the page actually shown
    size: int         # rows per page

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.size))

    @property
    def first(self) -> int:
        """Position of the first row shown (1-based), 0 when none."""
        return (self.criteria.page - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0
