"""Members of a community: adding, editing, deactivating them."""
from flask_babel import gettext as _
from sqlalchemy import select

from service import audit, mailer, normalize
from service.errors import DomainError
from service.extensions import db
from service.models import Community, Coordinator, Member, Membership, Organization
from service.models.members import DIGEST_FREQUENCIES, LANGUAGES, ROLES


def organization_named(name: str | None) -> Organization | None:
    """The organization with this name (case-insensitive), created if new; None for a blank name."""
    name = normalize.text(name)
    if not name:
        return None
    key = name.lower()
    org = db.session.scalar(select(Organization).where(Organization.name_key == key))
    if org is None:
        org = Organization(name=name, name_key=key)
        db.session.add(org)
        db.session.flush()
    return org


NAME_MAX_LENGTH = 200  # Member.name and Organization.name hold this many characters


def _check_lengths(name: str, organization: str | None) -> None:
    if len(name) > NAME_MAX_LENGTH:
        raise DomainError(_("A name can have at most %(n)d characters.", n=NAME_MAX_LENGTH), "name")
    if len(normalize.text(organization)) > NAME_MAX_LENGTH:
        raise DomainError(_("An organization name can have at most %(n)d characters.", n=NAME_MAX_LENGTH),
                          "organization")


def _check_choices(language: str, role: str | None = None, digest_frequency: str | None = None) -> None:
    if language not in LANGUAGES:
        raise DomainError(_("Language must be English (en) or Spanish (es)."), "language")
    if role is not None and role not in ROLES:
        raise DomainError(_("Role must be member, facilitator or leader."), "role")
    if digest_frequency is not None and digest_frequency not in DIGEST_FREQUENCIES:
        raise DomainError(_("Unknown digest frequency."), "digest_frequency")


def membership_in(community: Community, membership_id: int) -> Membership | None:
    """A membership of this community by id (None if it belongs elsewhere)."""
    return db.session.scalar(select(Membership).where(
        Membership.id == membership_id, Membership.community_id == community.id))


def add_member(actor: Coordinator | None, community: Community, *, name: str, email: str,
               organization: str | None = None, language: str = "en", role: str = "member",
               welcome: bool = False) -> Membership:
    """Add a person to a community, creating the member if the address is new; the caller commits.

    An address that already belongs to a member elsewhere joins this community
    with that member's existing details, so a person has one record and one
    set of email preferences across communities.
    """
    address = normalize.email_address(email)
    name = normalize.text(name)
    if not name:
        raise DomainError(_("A name is required."), "name")
    _check_lengths(name, organization)
    _check_choices(language, role)
    member = db.session.scalar(select(Member).where(Member.email == address))
    if member is None:
        org = organization_named(organization)
        member = Member(email=address, name=name, language=language,
                        organization_id=org.id if org else None)
        db.session.add(member)
        db.session.flush()
    elif db.session.scalar(select(Membership).where(
            Membership.member_id == member.id, Membership.community_id == community.id)):
        raise DomainError(_("%(address)s is already a member of this community.", address=address), "email")
    membership = Membership(community_id=community.id, member_id=member.id, role=role)
    db.session.add(membership)
    db.session.flush()
    audit.record(actor, "member.add", "member", member.id, community.id, email=address, role=role)
    if welcome:
        send_welcome(community, member)
    return membership


def send_welcome(community: Community, member: Member) -> None:
    """Queue the welcome email; once per member and community, however often it is asked for."""
    mailer.queue_email("welcome", member, f"welcome:{community.id}:{member.id}", community=community)


def update_member(actor: Coordinator, membership: Membership, *, name: str, email: str,
                  organization: str | None, language: str, role: str, digest_frequency: str) -> Membership:
    """Edit a member's details and role here; the caller commits."""
    member = membership.member
    address = normalize.email_address(email)
    name = normalize.text(name)
    if not name:
        raise DomainError(_("A name is required."), "name")
    _check_lengths(name, organization)
    _check_choices(language, role, digest_frequency)
    if address != member.email and db.session.scalar(select(Member).where(Member.email == address)):
        raise DomainError(_("Another member already uses %(address)s.", address=address), "email")
    org = organization_named(organization)
    new = {"name": name, "email": address, "language": language, "digest_frequency": digest_frequency,
           "organization_id": org.id if org else None}
    changes = {k: [getattr(member, k), v] for k, v in new.items() if getattr(member, k) != v}
    for key, (_old, value) in changes.items():
        setattr(member, key, value)
    if membership.role != role:
        changes["role"] = [membership.role, role]
        membership.role = role
    if changes:
        audit.record(actor, "member.update", "member", member.id, membership.community_id, changes=changes)
    return membership


def set_membership_status(actor: Coordinator, membership: Membership, status: str) -> Membership:
    """Deactivate (no more community mail, history kept) or reactivate a membership."""
    if status not in ("active", "inactive") or membership.status == status:
        return membership
    membership.status = status
    action = "member.deactivate" if status == "inactive" else "member.reactivate"
    audit.record(actor, action, "member", membership.member_id, membership.community_id)
    return membership
