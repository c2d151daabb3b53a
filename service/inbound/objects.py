"""Which of our emails a reply answers, and so what it is about (a meeting, a charter, a digest...).

The reply's In-Reply-To, then its References (newest first), are looked up
among the Message-IDs stored on outbox rows sent *to this member in this
community*: a Message-ID of someone else's email never matches, so a reply
can't reach another member's meeting or another community. Clients that
drop those headers still keep the subject, so the subject (without "Re:",
"RV:", "Fwd:"...) is compared with the subjects of the member's latest
emails from the community, rendered again. Nothing else is guessed: with
no match the reply is unclear and a person reads it.
"""
from typing import NamedTuple

from jinja2 import UndefinedError
from sqlalchemy import select

from service.extensions import db
from service.inbound.intent import normalized, subject_without_prefixes
from service.models import Community, FormResponse, Member, MeetingSeries, OutboundEmail

SUBJECT_LOOKBACK = 20  # latest emails to this member in this community whose subject a reply may carry
MEETING_KINDS = ("meeting_invitation", "meeting_update", "meeting_reminder", "meeting_cancelled")
SERIES_KINDS = ("series_invitation", "series_update", "series_cancelled")


class AnsweredObject(NamedTuple):
    kind: str             # 'meeting', 'meeting_feedback', 'facilitation', 'charter', 'form_request', 'digest', 'announcement', ...
    id: int | None
    email: OutboundEmail  # the outbox row replied to (its kind tells an invitation from a cancellation)


def answered_object(incoming, member: Member, community: Community) -> AnsweredObject | None:
    """The object of the email this reply answers, or None when nothing of ours to this member matches."""
    row = _row_by_message_id(incoming, member, community) or _row_by_subject(incoming, member, community)
    if row is None:
        return None
    kind, object_id = object_of(row)
    return AnsweredObject(kind, object_id, row)


def object_of(row: OutboundEmail) -> tuple[str, int | None]:
    """What an outbox row was about, from its kind and context."""
    context = row.context or {}
    if row.kind in MEETING_KINDS:
        return "meeting", context.get("meeting_id")
    if row.kind in SERIES_KINDS:  # a recurring series' email: about its next meeting (answers apply on from it)
        return "meeting", _next_of_series(context.get("series_id"))
    if row.kind == "feedback_request":
        return "meeting_feedback", context.get("meeting_id")
    if row.kind == "facilitator_assigned":
        return "facilitation", context.get("meeting_id")
    if row.kind in ("charter_proposal", "charter_reminder", "charter_ratified"):
        return "charter", context.get("charter_id")
    if row.kind in ("form_request", "form_reminder"):
        return "form_request", _form_request_id(context.get("response_id"))
    if row.kind in ("digest", "digest_organization"):
        return "digest", context.get("issue_id")
    if context.get("object_kind"):  # our confirmation of an earlier reply: about what that reply was about
        return context["object_kind"], context.get("object_id")
    return row.kind, row.id  # announcement, welcome: the email itself


def _next_of_series(series_id) -> int | None:
    from service.meeting_series import next_open, occurrences
    series = db.session.get(MeetingSeries, series_id) if series_id else None
    if series is None:
        return None
    meeting = next_open(series) or occurrences(series)[-1]
    return meeting.id


def _form_request_id(response_id) -> int | None:
    if response_id is None:
        return None
    return db.session.scalar(select(FormResponse.request_id).where(FormResponse.id == response_id))


def _ours_to(member: Member, community: Community):
    return select(OutboundEmail).where(OutboundEmail.member_id == member.id,
                                       OutboundEmail.community_id == community.id)


def _row_by_message_id(incoming, member: Member, community: Community) -> OutboundEmail | None:
    """The newest of the referenced Message-IDs that is one of ours to this member in this community."""
    candidates = [incoming.in_reply_to] if incoming.in_reply_to else []
    candidates += reversed(incoming.references or [])
    candidates = [c for c in dict.fromkeys(candidates) if c][:50]
    if not candidates:
        return None
    rows = {row.message_id: row for row in db.session.scalars(
        _ours_to(member, community).where(OutboundEmail.message_id.in_(candidates)))}
    return next((rows[c] for c in candidates if c in rows), None)


def _row_by_subject(incoming, member: Member, community: Community) -> OutboundEmail | None:
    """The latest sent email to this member in this community whose subject the reply's subject repeats."""
    wanted = normalized(subject_without_prefixes(incoming.subject or ""))
    if not wanted:
        return None
    rows = db.session.scalars(_ours_to(member, community).where(OutboundEmail.status == "sent")
                              .order_by(OutboundEmail.id.desc()).limit(SUBJECT_LOOKBACK))
    return next((row for row in rows if normalized(sent_subject(row, member, community)) == wanted), None)


def sent_subject(row: OutboundEmail, member: Member, community: Community) -> str:
    """The subject of an email we sent, rendered again; '' when what it was about has been deleted since."""
    from service.email_render import subject_of  # rendering needs the mail templates only on this path
    try:
        return subject_of(row, member, community)
    except (LookupError, AttributeError, TypeError, UndefinedError):
        return ""
