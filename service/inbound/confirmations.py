"""The answer every human reply gets: what was recorded and how to change it, or that a person will read it.

Each goes through the outbox under a key per inbound message, so processing
a message again never confirms it twice. It is threaded under the member's
own message (In-Reply-To / References, see email_render) and marked
`Auto-Submitted: auto-replied` (RFC 3834), so a well-behaved auto-responder
on the member's side does not answer it.
"""
from service import mailer
from service.email_render import safe_message_id
from service.models import Community, Member

EXCERPT_CHARS = 1000
CONFIRMATION_KINDS = frozenset(name for name, kind in mailer.KINDS.items() if kind.reply)


def confirm(kind: str, row, incoming, member: Member, community: Community, by_a_person: bool = False,
            **context) -> int:
    """Queue the confirmation `kind` for inbound message `row`; 0 if it was queued before.

    `by_a_person`: a coordinator recorded it from the inbox after the member
    was told a person would read it; that is a second confirmation, once.
    """
    if kind not in CONFIRMATION_KINDS:
        raise ValueError(f"{kind!r} is not a reply confirmation")
    context = {"inbound_id": row.id, "object_kind": row.object_kind, "object_id": row.object_id,
               "excerpt": excerpt(row.text or ""), **context}
    message_id = safe_message_id(incoming.message_id)
    if message_id:
        context["in_reply_to"] = message_id
    key = f"inbound-reply:{row.id}" + (":by-a-person" if by_a_person else "")
    return mailer.queue_email(kind, member, key, context, community)


def excerpt(text: str) -> str:
    """The member's words as we show them back: at most EXCERPT_CHARS, cut at a word."""
    if len(text) <= EXCERPT_CHARS:
        return text
    return text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " [...]"


def email_extras(row, member: Member, community: Community) -> dict:
    """What the confirmation templates need at send time: the meeting or the charter as they are now."""
    from service import charters, meeting_emails, meetings, practices
    extras = {"rsvp": None, "meeting_open": False, "reason": "", "note": "", "comment": "", "excerpt": "",
              "share_url": practices.share_url(community, member)}
    extras.update({key: value for key, value in row.context.items() if key in extras})
    if row.context.get("meeting_id"):
        extras.update(meeting_emails.email_extras(row, member, community))
        extras["meeting_open"] = meetings.is_open(extras["meeting"])
    if row.context.get("charter_id"):
        extras.update(charters.email_extras(row, member, community))
    return extras
