"""Pages kept whole between changes: the community page's body and the members list's are rendered once per
community figures stamp (service/figures_stamp.py, raised by database triggers with every change they show) and
served again while it holds, since rendering them cost several times the login page.

A kept page is keyed by everything else it shows: the community's own row, the language, the viewer where the
page differs by viewer, and the request's own choices. It is kept only when this session saw the stamp everyone
sees (not its own uncommitted change), with the stamp read before the page's data (a change committed while it
renders makes the kept copy newer than its key, never older), and only until the moment time alone would change
it. The session's CSRF token is put back into each copy served (a kept copy holds a placeholder).
"""
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import inspect

from service import clock, figures_stamp
from service.kept import Kept
from service.models import Community

_TOKEN_PLACEHOLDER = "kept-page-csrf-token-placeholder"
_KEPT = Kept(128)  # per process; a community page at 10,000 members is about 40 KB


@dataclass(frozen=True)
class KeptPage:
    html: str
    until: datetime | None  # None: only a change raises it


def kept(community: Community, name: str, key: tuple, render: Callable[[], str],
         until: Callable[[datetime], datetime | None] | None = None) -> Markup:
    """The page `render()` makes for `community` and `key`, from a copy kept at the community's current stamp
    when there is one; `until(moment)` says when time alone changes the page rendered at `moment`."""
    version = figures_stamp.seen_version(community.id)  # before the data: see the module's docstring
    full_key = (name, community.id, version, community_row(community), str(get_locale()), key)
    moment = clock.now()
    page = _KEPT.get(full_key)
    if page is not None and (page.until is None or moment < page.until):
        return with_token(page.html)
    html = str(render())
    if figures_stamp.committed_versions([community.id])[community.id] == version:
        ends = until(moment) if until else None
        _KEPT.keep(full_key, KeptPage(without_token(html), ends))
    return Markup(html)


def without_token(html: str) -> str:
    """A page to keep: this session's CSRF token in it replaced by a placeholder."""
    return html.replace(generate_csrf(), _TOKEN_PLACEHOLDER)


def with_token(kept_html: str) -> Markup:
    """A kept page to serve: the placeholder replaced by this session's CSRF token."""
    return Markup(kept_html.replace(_TOKEN_PLACEHOLDER, generate_csrf()))


def community_row(community: Community) -> tuple:
    """Every column of the community's row, as loaded for this request (its settings show on its pages); a JSON
    value (its reminder offsets) as its text."""
    values = (getattr(community, attribute.key) for attribute in inspect(Community).column_attrs)
    return tuple(json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value for value in values)
