"""A member's reply to one of our emails, acted on: RSVP, shared practice, charter vote, facilitation handed on,
unsubscribe, comment.

Who wrote it was checked before (service.inbound.process); here we find what
it answers (objects), what the member means (intent) and call the same
domain function the web page calls, in the member's language, so a refusal
(a meeting that has started, a charter no longer open) comes back as a
sentence we can mail them. Whatever is not clear becomes 'unclear' for a
coordinator, with the reason, and the member hears that a person will read
it. Every human reply is confirmed, except an unsubscribe: after that we
send nothing.
"""
from flask_babel import force_locale

from service import charters, facilitation, meetings, normalize, practices, preferences
from service.errors import DomainError
from service.extensions import db
from service.inbound import intent, process, trim
from service.inbound.confirmations import confirm
from service.inbound.objects import AnsweredObject, answered_object
from service.models import Charter, Community, Meeting, Member

PRACTICE_KINDS = ("digest", "digest_organization")
PRACTICE_MIN_WORDS = 8      # "Thanks!" under a digest is a comment, not a practice to review
PRACTICE_TITLE_CHARS = 80


def handle(row, incoming, member: Member, community: Community, language: str) -> None:
    """Act on the reply and record in `row` what was done (status, outcome, reason, object, text);
    `language` is the member's in this community (their membership, which the caller has read)."""
    row.text = normalize.text(trim.reply_text(incoming), multiline=True)
    with db.session.no_autoflush:  # only the row has changes yet: they go in one UPDATE with its object's
        target = answered_object(incoming, member, community)
    if target is not None:
        row.object_kind, row.object_id = target.kind, target.id
    with force_locale(language):
        if intent.wants_unsubscribe(incoming.subject, row.text):
            preferences.unsubscribe(member, via="email")
            process.finish(row, "done", "unsubscribed")
            return
        _act(row, incoming, member, community, target)


def _act(row, incoming, member: Member, community: Community, target: AnsweredObject | None) -> None:
    if not row.text:
        return _unclear(row, incoming, member, community, "empty: no words of the member's own above the quote")
    if target is None:
        return _unclear(row, incoming, member, community, "not a reply to any email this member got from us here")
    # Our confirmations included; a cancellation's reply is a comment.
    if target.kind == "meeting" and target.email.kind not in ("meeting_cancelled", "series_cancelled"):
        return _rsvp(row, incoming, member, community, target)
    if target.kind == "charter":
        return _charter_vote(row, incoming, member, community, target)
    if target.kind == "facilitation" and intent.wants_to_hand_on(row.text):
        return _hand_on(row, incoming, member, community, target)
    if target.email.kind in PRACTICE_KINDS and len(row.text.split()) >= PRACTICE_MIN_WORDS:
        return _practice(row, incoming, member, community)
    return _comment(row, incoming, member, community)


def _rsvp(row, incoming, member, community, target) -> None:
    with db.session.no_autoflush:  # the row's changes so far go in one UPDATE with its outcome, not one of their own
        meeting, invitation = meetings.meeting_and_invitation(target.id, member) if target.id else (None, None)
    if meeting is None or meeting.community_id != community.id:
        return _unclear(row, incoming, member, community, "the meeting it answers no longer exists")
    answer = intent.rsvp_answer(row.text)
    if answer is None:
        return _unclear(row, incoming, member, community, "no clear yes, no or maybe: read it as a comment",
                        outcome="comment", meeting_id=meeting.id)
    note = intent.after_first_sentence(row.text)
    try:
        meetings.record_rsvp(meeting, member, answer, note=note, via="email", invitation=invitation)
    except DomainError as refusal:
        return _refused(row, incoming, member, community, refusal, meeting_id=meeting.id)
    process.finish(row, "done", "rsvp", answer=answer)
    confirm("reply_rsvp", row, incoming, member, community, meeting_id=meeting.id, note=note[:500])


def _charter_vote(row, incoming, member, community, target) -> None:
    charter = db.session.get(Charter, target.id) if target.id else None
    if charter is None or charter.community_id != community.id:
        return _unclear(row, incoming, member, community, "the charter it answers no longer exists")
    decision = intent.charter_decision(row.text)
    if decision is None:
        return _comment(row, incoming, member, community)
    choice, comment = decision
    try:
        charters.vote(charter, member, choice, comment)
    except DomainError as refusal:
        return _refused(row, incoming, member, community, refusal)
    process.finish(row, "done", "charter_vote", decision=choice)
    confirm("reply_charter", row, incoming, member, community, charter_id=charter.id, decision=choice,
            comment=comment)


def _hand_on(row, incoming, member, community, target) -> None:
    """A facilitator who cannot do it: the meeting goes to the next in line, as from the email's link."""
    meeting = db.session.get(Meeting, target.id) if target.id else None
    if meeting is None or meeting.community_id != community.id:
        return _unclear(row, incoming, member, community, "the meeting it answers no longer exists")
    try:
        taken_by = facilitation.hand_on(meeting, member, via="email")
    except DomainError as refusal:
        return _refused(row, incoming, member, community, refusal, meeting_id=meeting.id)
    process.finish(row, "done", "facilitation_handed_on", taken_by=taken_by)
    confirm("reply_facilitation", row, incoming, member, community, meeting_id=meeting.id, taken_by=taken_by)


def _practice(row, incoming, member, community) -> None:
    title = practice_title(incoming.subject, row.text)
    try:
        practice = practices.submit_practice(community, member, title, row.text, source="email")
    except DomainError as refusal:
        return _refused(row, incoming, member, community, refusal)
    process.finish(row, "done", "practice", practice_id=practice.id)
    confirm("reply_practice", row, incoming, member, community, title=practice.title)


def _comment(row, incoming, member, community) -> None:
    process.finish(row, "done", "comment")
    confirm("reply_comment", row, incoming, member, community)


def _refused(row, incoming, member, community, refusal: DomainError, **context) -> None:
    """The domain said no (in the member's language): unclear for a coordinator, and the member told why."""
    _unclear(row, incoming, member, community, str(refusal), member_reason=str(refusal), **context)


def _unclear(row, incoming, member, community, reason: str, member_reason: str = "", outcome: str | None = None,
             **context) -> None:
    process.finish(row, "unclear", outcome, reason)
    confirm("reply_unclear", row, incoming, member, community, reason=member_reason, **context)


def practice_title(subject: str, text: str) -> str:
    """The subject when the member wrote one of their own, else (a "Re:" of ours) their first sentence."""
    own = " ".join((subject or "").split())
    if own and intent.subject_without_prefixes(own) == own:
        return own[:PRACTICE_TITLE_CHARS]
    sentence = intent.first_sentence(text).rstrip(".!;:")
    if len(sentence) > PRACTICE_TITLE_CHARS:
        sentence = sentence[:PRACTICE_TITLE_CHARS].rsplit(" ", 1)[0] + "..."
    return sentence
