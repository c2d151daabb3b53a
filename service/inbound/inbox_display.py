"""How the inbox shows a received message: what was understood, in a sentence, and the message made safe to read.

A member's reply usually quotes the email it answers, and that email holds
the member's own signed links (RSVP, unsubscribe, preferences). Shown to a
coordinator, such a link would act as the member, so every one of them is
replaced by its test-copy stand-in (service.test_copies), also when the
message's quoted-printable encoding has cut it across lines.
"""
import quopri
import re

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from service.conversations.choices import CHOICE_LABELS
from service.extensions import db
from service.models import Coordinator, FormRequest, InboundMessage, Meeting
from service.test_copies import stand_in_links

RSVP_WORDS = {"yes": lambda: _("yes"), "no": lambda: _("no"), "maybe": lambda: _("maybe")}


def object_titles(rows: list[InboundMessage]) -> dict[tuple[str, int], str]:
    """The titles of the meetings and forms the rows answer, in two queries for a page."""
    wanted = {"meeting": set(), "form_request": set()}
    for row in rows:
        kind = "meeting" if row.object_kind in ("meeting", "meeting_feedback", "facilitation") else row.object_kind
        if kind in wanted and row.object_id is not None:
            wanted[kind].add(row.object_id)
    titles = {}
    for kind, model in (("meeting", Meeting), ("form_request", FormRequest)):
        if wanted[kind]:
            titles.update({(kind, object_id): title for object_id, title in db.session.execute(
                select(model.id, model.title).where(model.id.in_(wanted[kind])))})
    return titles


def coordinator_names(rows: list[InboundMessage]) -> dict[int, str]:
    ids = {row.handled_by_id for row in rows if row.handled_by_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(Coordinator.id, Coordinator.name).where(Coordinator.id.in_(ids))).all())


def object_phrase(row: InboundMessage, titles: dict) -> str:
    """What the message answers, as a phrase that fits "Comment on …"."""
    kind, object_id = row.object_kind, row.object_id
    meeting_title = titles.get(("meeting", object_id))
    if kind == "meeting" and meeting_title:
        return _("the meeting “%(title)s”", title=meeting_title)
    if kind == "meeting_feedback" and meeting_title:
        return _("the feedback request for “%(title)s”", title=meeting_title)
    if kind == "facilitation" and meeting_title:
        return _("the facilitation of “%(title)s”", title=meeting_title)
    if kind == "form_request" and titles.get(("form_request", object_id)):
        return _("the form “%(title)s”", title=titles[("form_request", object_id)])
    phrases = {"meeting": _("a meeting"), "meeting_feedback": _("a feedback request"), "charter": _("the charter"),
               "form_request": _("a form"), "digest": _("the lesson digest"),
               "announcement": _("a message to the community"), "welcome": _("the welcome email"),
               "check_in": _("a personal check-in"), "facilitation": _("a meeting they facilitate")}
    return phrases.get(kind, _("one of our emails"))


def understood(row: InboundMessage, titles: dict) -> str:
    """What processing (or a coordinator) made of the message, in one sentence."""
    if row.status == "received":
        return _("Waiting to be read.")
    if row.status == "held":
        return _("Held: %(reason)s", reason=row.reason)
    if row.status == "unclear":
        return _("Not understood: %(reason)s", reason=row.reason) if row.reason else _("Not understood.")
    if row.status == "failed":
        return _("Could not be processed: %(reason)s", reason=row.reason)
    if row.status == "ignored":
        return _("Ignored: %(reason)s", reason=row.reason) if row.reason else _("Ignored.")
    detail = row.detail or {}
    answer = RSVP_WORDS.get(detail.get("answer"), lambda: detail.get("answer") or "?")()
    sentences = {
        "rsvp": lambda: _("RSVP %(answer)s to %(object)s", answer=answer, object=object_phrase(row, titles)),
        "calendar_rsvp": lambda: _("RSVP %(answer)s to %(object)s, from their calendar", answer=answer,
                                   object=object_phrase(row, titles)),
        "practice": lambda: _("A practice, waiting in the review queue"),
        "charter_vote": lambda: _("A vote on the charter"),
        "comment": lambda: _("Comment on %(object)s", object=object_phrase(row, titles)),
        "facilitation_handed_on": lambda: _("Handed on %(object)s to the next in the rotation",
                                            object=object_phrase(row, titles)),
        "unsubscribed": lambda: _("Unsubscribed from all emails"),
        "conversations_choice": lambda: _("Chose how to receive the conversations: %(choice)s",
                                          choice=CHOICE_LABELS.get(detail.get("choice"), "?")),
        "conversation_mute": lambda: _("Muted a conversation") if detail.get("conversation_id")
        else _("Asked to mute a conversation, but named none"),
        "bounce": lambda: _("A delivery failure report"),
    }
    return sentences.get(row.outcome, lambda: row.outcome or _("Done."))()


# --- safe to read ---------------------------------------------------------------------------------

def readable(text: str) -> str:
    """Text a member wrote with their signed links replaced by stand-ins."""
    return stand_in_links((text,))[0]


def raw_source(row: InboundMessage) -> str:
    """The message as it arrived, as text, with the member's signed links replaced by stand-ins."""
    text = row.raw.decode("utf-8", errors="replace")
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return _link_pattern(base).sub(lambda found: _stand_in_encoded(found.group()), text)


SOFT_BREAK = r"(?:=\r?\n)?"


def _link_pattern(base: str) -> re.Pattern:
    """Our links, including ones a quoted-printable soft line break ("=" at a line's end) cuts anywhere."""
    spelled = SOFT_BREAK.join(re.escape(character) for character in base)
    return re.compile(spelled + r"""(?:=\r?\n|[^\s"'<>])*""")


def _stand_in_encoded(found: str) -> str:
    """The stand-in for a link as it appears in the raw message (quoted-printable or not)."""
    link = found
    if re.search(r"=\r?\n|=[0-9A-F]{2}", found):
        link = quopri.decodestring(found.encode("ascii", errors="replace")).decode("utf-8", errors="replace")
    replaced = readable(link)
    if replaced == link:
        return found
    return replaced
