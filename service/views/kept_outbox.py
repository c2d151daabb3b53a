"""The Outbox page's rows and body kept between looks: writing a row (its subject, rendered from the objects it
points at, its local time, its labels) and the page around them cost more than the page's statements, and a
coordinator looks at the same newest rows again and again.

A row's HTML is kept under everything it shows: the row's own columns as read for this look (status, attempts
and error change at every delivery without raising any stamp, so they are read each time and are the key), its
language, its community's row, the reader's language, and its community's figures stamp (service/figures_stamp.py)
as read before the rows: every object a subject reads (a meeting, a charter, a digest issue, a form and its
response) belongs to the row's community and raises that stamp when it changes. Rows whose subject reads an
object kept across communities (a lesson module, an organization) or that belong to no community are written
each time.

The page's body is kept under its rows' HTML and everything else it shows (the counts, the filters, the
communities' names, the reader's language); the session's CSRF token is put back into each copy served, as
service/views/kept_pages.py does.
"""
from typing import Callable

from markupsafe import Markup
from sqlalchemy import Row

from service import figures_stamp
from service.kept import Kept
from service.models import Community
from service.views.kept_pages import community_row, with_token, without_token

UNSTAMPED_OBJECTS = ("module_id", "organization_id")
_ROWS = Kept(4096)  # per process; a row is about 600 bytes
_BODIES = Kept(64)  # per process; a body is about 14 KB


def body(language: str, communities: list[Community], shows: dict, render: Callable[[], str]) -> Markup:
    """The page's body `render()` makes, from a copy kept under everything it shows (`shows`, the names of the
    reader's communities, the reader's language) when there is one."""
    key = (language, tuple((community.id, community.name) for community in communities),
           tuple((name, tuple(sorted(value.items())) if isinstance(value, dict) else value)
                 for name, value in shows.items()))
    html = _BODIES.get(key)
    if html is None:
        html = without_token(str(render()))
        _BODIES.keep(key, html)
    return with_token(html)


def rows_html(rows: list[Row], visible: list[tuple[Community, int]], language: str,
              write: Callable[[list[Row]], list[Markup]]) -> list[Markup]:
    """Each row's HTML, kept or made by `write(rows)` for those not kept; `visible` are the reader's communities
    with their stamps, read before the rows (service.figures_stamp.with_versions)."""
    communities = {community.id: (community, version) for community, version in visible}
    rows_of: dict[int, tuple] = {}
    keys = [_key(row, communities, rows_of, language) for row in rows]
    found = [_ROWS.get(key) if key is not None else None for key in keys]
    missing = [row for row, html in zip(rows, found) if html is None]
    if not missing:
        return found
    written = iter(write(missing))
    # Kept only at a stamp everyone sees: not one raised by this session's own change, not yet committed.
    committed = figures_stamp.committed_versions(sorted({key[2] for key in keys if key is not None}))
    result = []
    for key, html in zip(keys, found):
        if html is None:
            html = next(written)
            if key is not None and committed[key[2]] == key[3]:
                _ROWS.keep(key, html)
        result.append(html)
    return result


def _key(row: Row, communities: dict, rows_of: dict, language: str) -> tuple | None:
    """What the row's HTML depends on, or None when it must be written each time. The context is keyed by its
    repr: equal reprs are equal JSON values (two equal values written in another order are only two keys)."""
    if row.community_id not in communities or any(row.context.get(name) is not None
                                                   for name in UNSTAMPED_OBJECTS):
        return None
    community, version = communities[row.community_id]
    if community.id not in rows_of:
        rows_of[community.id] = community_row(community)
    return (tuple(repr(value) if isinstance(value, (dict, list)) else value for value in row),
            rows_of[community.id], community.id, version, language)
