"""The one polite answer to someone who is not a member writing to a community's address.

A community's address is public, so strangers, former members and members
writing from another account reach it. Each gets one email saying the
address only takes its members' posts and who runs the community (names,
never addresses), at most once a day per address and community: the
outbox's idempotency key names both and the day, so a second post, or a
robot that answers our answer, gets nothing more. No refusal goes to mail
no person wrote (process.py stops that before it gets here), to our own
addresses, to an address that cannot be mailed or one suppressed for
bouncing. It is not a member email: no unsubscribe link, addressed like the
interest form's acknowledgement (a `to_coordinator` kind).
"""
import hashlib
from dataclasses import dataclass

from sqlalchemy import select

from service import clock, mailer, normalize
from service.email_render import render_template_in, safe_message_id
from service.errors import DomainError
from service.extensions import db
from service.inbound.automatic import is_our_address
from service.models import Community, CommunityCoordinator, Coordinator, Member

KIND = "post_not_member"
RUNNING_ROLES = ("coordinator", "leader")


@dataclass(frozen=True)
class Stranger:
    """Whom the refusal is addressed to (mailer.queue_coordinator_email reads `.email`)."""
    email: str


def refuse(row, incoming, community: Community) -> int:
    """Queue the refusal for inbound message `row` from a non-member; 1 if queued, 0 when none is due."""
    address = mailable_sender(incoming.from_address)
    if not address or mailer.suppressed_addresses([address]):
        return 0
    context = {"community_id": community.id, "sender_name": incoming.from_name, "inbound_id": row.id,
               "subject": incoming.subject}
    answered = safe_message_id(incoming.message_id)
    if answered:
        context["in_reply_to"] = answered
    return mailer.queue_coordinator_email(KIND, Stranger(address), refusal_key(community, address), context,
                                          community=community)


def mailable_sender(address: str) -> str:
    """The sender's address as we would write to it, or '' when it is missing, malformed or ours."""
    try:
        address = normalize.email_address(address) if address else ""
    except DomainError:
        return ""
    return "" if is_our_address(address) else address


def refusal_key(community: Community, address: str) -> str:
    """One refusal per address, community and day (the address hashed: keys stay short, addresses vary)."""
    digest = hashlib.sha256(address.encode()).hexdigest()[:24]
    return f"post-not-member:{community.id}:{digest}:{clock.now():%Y-%m-%d}"


def runners(community: Community) -> list[str]:
    """Names of the community's coordinators and leaders whose accounts are enabled, by name."""
    return list(db.session.scalars(
        select(Coordinator.name).join(CommunityCoordinator, CommunityCoordinator.coordinator_id == Coordinator.id)
        .where(CommunityCoordinator.community_id == community.id, CommunityCoordinator.role.in_(RUNNING_ROLES),
               Coordinator.active.is_(True)).order_by(Coordinator.name)))


def email_extras(row) -> dict:
    """What the refusal's templates need: the community, who runs it, and the language to write in.

    Someone we know (a former member, a member of another community) reads
    their own language; for anyone else the email is in English with the
    same words in Spanish below.
    """
    community = db.session.get(Community, row.context["community_id"])
    if community is None:
        raise ValueError("the community no longer exists")
    known = db.session.scalar(select(Member).where(Member.email == row.recipient))
    extras = {"community": community, "runners": runners(community), "language": known.language if known else "en",
              "recipient_name": row.context.get("sender_name") or (known.name if known else ""), "translation": None}
    if known is None:
        body = {**row.context, **extras}
        extras["translation"] = {part: render_template_in("es", f"_post_not_member_body.{part}", body)
                                 for part in ("txt", "html")}
    return extras
