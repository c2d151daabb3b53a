"""The coordinator's inbox: which received messages a coordinator sees, and what they can do with one by hand.

A message is listed in the community its signed reply address (or its
meeting's calendar address) names; messages that name no community (an
address we could not read) are for admins only. A coordinator acts on a
message that needs a person (held, unclear, failed) through the same domain
functions a member's own link or reply reaches: meetings.record_rsvp,
practices.submit_practice. Every action is audited and records who took it.

A held message may come from an address that is not the member's (someone
forwarded it, or wrote from a work account). Acting on it means acting for
the member the reply address belongs to, so those actions need the
coordinator to confirm they checked who wrote it (`sender_confirmed`);
ignoring it or processing it again does not.
"""

from flask_babel import gettext as _
from sqlalchemy import Select, case, func, select

from service import audit, meeting_queries, meetings, practices
from service.addresses import read_address
from service.clock import now
from service.errors import DomainError
from service.extensions import db
from service.inbound.confirmations import confirm
from service.inbound.intent import subject_without_prefixes
from service.inbound.message import read_message
from service.inbound.process import finish, same_address
from service.inbound.store import PROCESS_JOB
from service.models import Community, Coordinator, InboundMessage, Invitation, Meeting, Member, Membership
from service.queue import enqueue_after_commit

PAGE_SIZE = 50
NEEDS_A_PERSON = ("held", "unclear", "failed")
CAN_PROCESS_AGAIN = ("held", "failed")
RSVP_ACTIONS = {"rsvp_yes": "yes", "rsvp_no": "no", "rsvp_maybe": "maybe"}
FOR_THE_MEMBER = (*RSVP_ACTIONS, "practice", "comment")  # actions that record something in the member's name
ACTIONS = (*FOR_THE_MEMBER, "ignore", "process_again")
# Held and unclear first, then failed, then the rest, newest first within each.
_ORDER = case((InboundMessage.status.in_(("held", "unclear")), 0), (InboundMessage.status == "failed", 1),
              (InboundMessage.status == "received", 2), else_=3)


# --- what a coordinator sees ----------------------------------------------------------------------

def messages_of(community: Community | None, status: str | None = None) -> Select:
    """The messages of a community (None: the ones that reached no community), in inbox order."""
    query = select(InboundMessage).where(_in(community)).order_by(
        _ORDER, InboundMessage.received_at.desc(), InboundMessage.id.desc())
    return query.where(InboundMessage.status == status) if status else query


def _in(community: Community | None):
    return InboundMessage.community_id.is_(None) if community is None \
        else InboundMessage.community_id == community.id


def page(query: Select, number: int) -> tuple[list[InboundMessage], bool]:
    """One page of messages, and whether another page follows."""
    rows = list(db.session.scalars(query.offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def status_counts(community: Community | None) -> dict[str, int]:
    return dict(db.session.execute(select(InboundMessage.status, func.count())
                                   .where(_in(community)).group_by(InboundMessage.status)).all())


def needing_a_person(community: Community | None) -> int:
    """How many of the community's messages wait for a coordinator (held, unclear or failed)."""
    return db.session.scalar(select(func.count(InboundMessage.id)).where(
        _in(community), InboundMessage.status.in_(NEEDS_A_PERSON)))


def message_in(community: Community | None, message_id: int) -> InboundMessage | None:
    """The message if it belongs to this community (None: to no community); views answer 404 otherwise."""
    return db.session.scalar(select(InboundMessage).where(InboundMessage.id == message_id, _in(community)))


def member_of(row: InboundMessage) -> Member | None:
    """The member the message speaks for: the one processing recognised, else the one whose signed reply
    address it was sent to, if they belong to the message's community. None when nobody can be named."""
    if row.member_id is not None:
        return db.session.get(Member, row.member_id)
    address = read_address(row.envelope_to)
    if row.community_id is None or address is None or address[0] != "reply" or len(address[1]) != 2:
        return None
    member_id, community_id = address[1]
    if community_id != row.community_id:
        return None
    return db.session.scalar(select(Member).join(Membership).where(
        Member.id == member_id, Membership.community_id == community_id))


def sent_by(row: InboundMessage, member: Member | None) -> bool:
    """Whether the message came from the member's own address."""
    return member is not None and same_address(row.from_address, member.email)


def words(row: InboundMessage) -> str:
    """What the member wrote: the trimmed words processing kept, else the whole message as plain text."""
    return row.text or read_message(row.raw).text.strip()


def answered_meeting(row: InboundMessage, community: Community) -> Meeting | None:
    """The meeting the message answers, if processing found one in this community."""
    if row.object_kind != "meeting" or row.object_id is None:
        return None
    return meeting_queries.meeting_in(community, row.object_id)


def open_meetings_for(community: Community, member: Member) -> list[Meeting]:
    """Meetings of the community the member is invited to and may still answer, soonest first."""
    return list(db.session.scalars(select(Meeting).join(Invitation).where(
        Meeting.community_id == community.id, Invitation.member_id == member.id, Meeting.status == "scheduled",
        Meeting.starts_at > now()).order_by(Meeting.starts_at, Meeting.id)))


# --- acting on a message --------------------------------------------------------------------------

def act(actor: Coordinator, row: InboundMessage, community: Community | None, action: str,
        meeting_id: int | None = None, sender_confirmed: bool = False) -> str:
    """Take one of ACTIONS on a message; returns what was done, in a sentence. The caller commits.

    DomainError when the action is refused (nothing is changed): the message
    was handled meanwhile, nobody to act for, the sender not confirmed, or
    the domain function refusing (a meeting that has started, an empty
    practice).
    """
    if action not in ACTIONS:
        raise DomainError(_("Unknown action."))
    db.session.refresh(row, with_for_update=True)  # two coordinators clicking at once: one acts
    if row.status not in NEEDS_A_PERSON:
        raise DomainError(_("Someone already dealt with this message."))
    before = {"status": row.status, "outcome": row.outcome, "reason": row.reason}
    if action == "ignore":
        finish(row, "ignored")  # the page names who ignored it (handled_by_id), in the reader's language
        said = _("The message is marked as ignored.")
    elif action == "process_again":
        said = _process_again(row)
    else:
        if community is None:
            raise DomainError(_("This message reached no community, so there is nobody to act for."))
        said = _for_the_member(row, community, action, meeting_id, sender_confirmed)
    row.handled_by_id = actor.id
    row.detail = {**(row.detail or {}), "handled": {"action": action, "by": actor.id, "before": before}}
    audit.record(actor, f"inbound.{action}", "inbound_message", row.id, row.community_id,
                 member=row.member_id, previous_status=before["status"], answers_kind=row.object_kind,
                 answers_id=row.object_id, **({"answer": RSVP_ACTIONS[action]} if action in RSVP_ACTIONS else {}))
    return said


def _process_again(row: InboundMessage) -> str:
    if row.status not in CAN_PROCESS_AGAIN:
        raise DomainError(_("Only held or failed messages can be processed again."))
    row.status, row.outcome, row.reason, row.processed_at, row.attempts = "received", None, "", None, 0
    enqueue_after_commit(PROCESS_JOB, row.id)
    return _("The message will be processed again in a moment.")


def _for_the_member(row: InboundMessage, community: Community, action: str, meeting_id: int | None,
                    sender_confirmed: bool) -> str:
    member = member_of(row)
    if member is None:
        raise DomainError(_("Nobody in this community can be named as the writer of this message, so nothing "
                            "can be recorded for them."))
    name = db.session.scalar(select(Membership.name).where(Membership.member_id == member.id,
                                                           Membership.community_id == community.id))
    if not sent_by(row, member) and not sender_confirmed:
        raise DomainError(_("This message came from %(address)s, not from %(name)s's address. Tick the box to "
                            "confirm that %(name)s wrote it, then choose again.",
                            address=row.from_address or _("an unknown address"), name=name))
    text = words(row)
    if action in RSVP_ACTIONS:
        meeting = answered_meeting(row, community) or \
            (meeting_queries.meeting_in(community, meeting_id) if meeting_id else None)
        if meeting is None:
            raise DomainError(_("Choose the meeting this answer is for."), "meeting_id")
        # The member's words become the answer's note; a message processing could not trim keeps the note there was.
        invitation = meetings.invitation_for(meeting, member)
        note = row.text or (invitation.note if invitation is not None else "") or ""
        meetings.record_rsvp(meeting, member, RSVP_ACTIONS[action], note, via="inbox")
        finish(row, "done", "rsvp", answer=RSVP_ACTIONS[action])
        row.object_kind, row.object_id = "meeting", meeting.id
        confirm("reply_rsvp", row, read_message(row.raw), member, community, by_a_person=True,
                meeting_id=meeting.id, note=note[:500])
        said = _("%(name)s's answer to “%(title)s” is recorded.", name=name, title=meeting.title)
    elif action == "practice":
        title = subject_without_prefixes(row.subject) or text.partition("\n")[0]
        practice = practices.submit_practice(community, member, title[:practices.MAX_TITLE], text, source="email")
        finish(row, "done", "practice", practice_id=practice.id)
        confirm("reply_practice", row, read_message(row.raw), member, community, by_a_person=True,
                title=practice.title)
        said = _("%(name)s's practice is waiting for review with the others.", name=name)
    else:
        finish(row, "done", "comment")
        said = _("The message is kept as %(name)s's comment.", name=name)
    row.member_id = member.id
    if row.text == "":
        row.text = text
    return said
