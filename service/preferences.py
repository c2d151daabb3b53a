"""A member's own choices, made from signed links: unsubscribe, resubscribe, preferences."""
from flask_babel import gettext as _
from sqlalchemy import delete, select

from service import audit, mailer, members
from service.errors import DomainError
from service.extensions import db
from service.models import Member, Membership, Suppression
from service.models.members import DIGEST_FREQUENCIES


def unsubscribe(member: Member, via: str) -> bool:
    """Stop all mail to this member at once; False if they were already unsubscribed."""
    if member.status == "unsubscribed":
        return False
    member.status = "unsubscribed"
    mailer.suppress(member.email, "unsubscribed")
    audit.record(None, "member.unsubscribe", "member", member.id, via=via)
    return True


def leave_communities(member: Member, membership_ids: list[int]) -> list[Membership]:
    """Stop one community's mail, or a few, and keep the rest: the member's own memberships among
    `membership_ids` become inactive (history kept, as when a coordinator deactivates one); returns them."""
    left = list(db.session.scalars(select(Membership).where(
        Membership.member_id == member.id, Membership.status == "active", Membership.id.in_(membership_ids))))
    for membership in left:
        membership.status = "inactive"
        audit.record(None, "member.leave", "member", member.id, membership.community_id, by="the member")
    return left


def resubscribe(member: Member) -> bool:
    """Undo the member's own unsubscribe (a bounce suppression stays: only mail that arrives lifts it)."""
    if member.status != "unsubscribed":
        return False
    member.status = "active"
    db.session.execute(delete(Suppression).where(Suppression.address == member.email,
                                                 Suppression.reason == "unsubscribed"))
    audit.record(None, "member.resubscribe", "member", member.id)
    return True


def update_preferences(member: Member, *, name: str, digest_frequency: str, language: str, paused: bool) -> None:
    """The person's own choices; their name and language are what every community uses for them from now on."""
    if digest_frequency not in DIGEST_FREQUENCIES:
        raise DomainError(_("Unknown digest frequency."), "digest_frequency")
    relanguaged = members.set_person_language(member, language)  # refuses an unknown one before anything changes
    new = {"digest_frequency": digest_frequency, "paused": paused}
    changes = {k: [getattr(member, k), v] for k, v in new.items() if getattr(member, k) != v}
    for key, (_old, value) in changes.items():
        setattr(member, key, value)
    changes.update(relanguaged)
    changes.update(members.set_person_name(member, name))
    if changes:
        audit.record(None, "member.preferences", "member", member.id, by="the member", changes=changes)
