"""Test copies: an email as a member would get it, sent to a coordinator, whose links act as nobody.

A coordinator's "send a test to myself" used to carry the member's own signed
links, so a click (or a mail scanner's POST) there unsubscribed the member,
answered their RSVP or filled in their form. In a test copy every link into
the app that carries a token is replaced by a link to the test-copy page,
which says what the link lets the member do and changes nothing; the copy
has no calendar part (it would put the member's meeting, with their RSVP, in
the coordinator's calendar), and its Reply-To is the coordinator's own
address. The same rewriting serves the dashboard's previews.
"""
import re
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from service.links import public_url

ENDPOINT = "member_links.test_copy"
# What each member link lets the member do, as the test-copy page says it ("... would let the member %s").
ACTIONS = {
    "member_links.unsubscribe": _l("unsubscribe from all emails"),
    "member_links.preferences": _l("choose how often they get email, or pause it"),
    "rsvp.answer": _l("answer the meeting invitation"),
    "rsvp.feedback": _l("give feedback on the meeting"),
    "form_links.answer": _l("fill in their form"),
    "charter_links.show": _l("read the charter and answer it"),
    "practice_links.share": _l("share a practice with the community"),
    "facilitation_links.hand_on": _l("hand the meeting they facilitate to the next member of the rotation"),
    "member_archive.index": _l("read the community's conversations"),
    "member_archive.thread": _l("read the whole conversation"),
}
OTHER = "other"  # a token link not listed above: the page still says it is a test copy


def stand_in_links(parts: tuple[str, ...]) -> tuple[str, ...]:
    """The rendered parts (subject, text, HTML) with every token link replaced by its test-copy link."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    pattern = re.compile(re.escape(base) + r"""/[^\s"'<>]*""")
    return tuple(pattern.sub(lambda found: _stand_in(found.group(), base), part) for part in parts)


def _stand_in(url: str, base: str) -> str:
    """The test-copy link for `url` if it carries a token; other links (public pages) stay as they are."""
    adapter = current_app.url_map.bind(urlsplit(base).netloc, script_name=urlsplit(base).path or "/")
    try:
        endpoint, values = adapter.match(urlsplit(url[len(base):]).path, method="GET")
    except HTTPException:
        return url
    if "token" not in values:
        return url
    return public_url(ENDPOINT, action=endpoint if endpoint in ACTIONS else OTHER)


def action_of(endpoint: str) -> str | None:
    """What the member's link would let them do; None for an action that is not ours."""
    if endpoint == OTHER:
        return _l("act on the member's behalf")
    return ACTIONS.get(endpoint)
