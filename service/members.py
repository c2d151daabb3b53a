"""Members of a community: adding, editing, deactivating them.

Data model (see service/models/members.py): the name a community knows a
person by, their organization there and the language its mail uses for them
live on the membership, so what one coordinator types or sees never reaches
another community's pages or mail. The person's address, language and own
name are shared; they change (and with them every membership's name and
language) by the person (service/preferences.py), by an admin, or by a coordinator only while
the person belongs to no other coordinator's community.
"""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from service import audit, mailer, normalize
from service.errors import DomainError
from service.extensions import db
from service.models import Community, CommunityCoordinator, Coordinator, Member, Membership, Organization
from service.models.members import DIGEST_FREQUENCIES, LANGUAGES, ROLES
from service.sql import one_of


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


def names_in(community: Community) -> dict[int, str]:
    """What this community calls each of its members (any status), by member id: one query for a page."""
    rows = db.session.execute(select(Membership.member_id, Membership.name)
                              .where(Membership.community_id == community.id))
    return {member_id: name for member_id, name in rows}


def known_as_in(community: Community, member_ids: list[int]) -> dict[int, tuple[str, str]]:
    """The name and mail language this community has for each of `member_ids` that belongs to it: one query.

    Only the members asked for: a delivery job of 500 rows of a 10,000-member
    fan-out read all 10,000 memberships, every job.
    """
    rows = db.session.execute(select(Membership.member_id, Membership.name, Membership.language)
                              .where(Membership.community_id == community.id,
                                     one_of(Membership.member_id, member_ids)))
    return {member_id: (name, language) for member_id, name, language in rows}


class KnownMember:
    """A member as one community knows them, for its mail: its name and language for them, the rest their own."""

    def __init__(self, member: Member, name: str, language: str):
        self.member = member
        self.name = name
        self.language = language

    def __getattr__(self, attribute: str):
        return getattr(self.member, attribute)


def known_in(member: Member | KnownMember, community: Community | None,
             known: dict[int, tuple[str, str]] | None = None) -> Member | KnownMember:
    """The member as `community` knows them (the person's own name and language outside any community).

    `known` is the community's `known_as_in`, for a caller rendering many of
    its members: a query per member costs more than the rest of sending one.
    """
    if community is None or isinstance(member, KnownMember):
        return member
    if known is None:
        found = db.session.execute(select(Membership.name, Membership.language).where(
            Membership.community_id == community.id, Membership.member_id == member.id)).first()
    else:
        found = known.get(member.id)
    return member if found is None else KnownMember(member, *found)


def membership_in(community: Community, membership_id: int) -> Membership | None:
    """A membership of this community by id (None if it belongs elsewhere)."""
    return db.session.scalar(select(Membership).where(
        Membership.id == membership_id, Membership.community_id == community.id))


def add_member(actor: Coordinator | None, community: Community, *, name: str, email: str,
               organization: str | None = None, language: str = "en", role: str = "member",
               welcome: bool = False) -> Membership:
    """Add a person to a community, creating the member if the address is new; the caller commits.

    A known address joins with the name, organization and language typed
    here, kept on this membership alone: nothing another community knows of
    the person is shown, changed or hinted at, and the add looks the same as
    for a new address. The person keeps their own language and set of email
    preferences.
    """
    address = normalize.email_address(email)
    name = normalize.text(name)
    if not name:
        raise DomainError(_("A name is required."), "name")
    _check_lengths(name, organization)
    _check_choices(language, role)
    member = db.session.scalar(select(Member).where(Member.email == address))
    if member is None:
        member = Member(email=address, name=name, language=language)
        db.session.add(member)
        db.session.flush()
    elif db.session.scalar(select(Membership).where(
            Membership.member_id == member.id, Membership.community_id == community.id)):
        raise DomainError(_("%(address)s is already a member of this community.", address=address), "email")
    org = organization_named(organization)
    membership = Membership(community_id=community.id, member_id=member.id, role=role, name=name,
                            language=language, organization_id=org.id if org else None)
    db.session.add(membership)
    db.session.flush()
    audit.record(actor, "member.add", "member", member.id, community.id, email=address, role=role)
    if welcome:
        send_welcome(community, member)
    return membership


def send_welcome(community: Community, member: Member) -> None:
    """Queue the welcome email; once per member and community, however often it is asked for."""
    send_welcomes(community, [member])


def send_welcomes(community: Community, people: list[Member]) -> int:
    """The welcome email to each of `people` in one statement (an import); how many were queued."""
    return mailer.queue_bulk("welcome", people, key_for=lambda m: f"welcome:{community.id}:{m.id}",
                             context_for=lambda m: {}, community=community)


# Shown beside the read-only fields and as the error for a change that gets past them.
LOCKED_EXPLANATION = _l("This person also takes part in a community that another coordinator runs, so only they "
                        "(from the preferences link in any email) or an administrator can change their name, "
                        "email address, language and digest frequency.")


def may_change_person(actor: Coordinator, member: Member) -> bool:
    """Whether this coordinator may change the person's name, address, language and digest frequency.

    An admin may; a coordinator only while every community the person belongs
    to is one they coordinate. Once another coordinator's community has the
    person too, only the person (preferences link) or an admin changes them,
    so no coordinator can steer the mail another community sends.
    """
    if actor.is_admin:
        return True
    coordinated = select(CommunityCoordinator.community_id).where(CommunityCoordinator.coordinator_id == actor.id)
    elsewhere = select(Membership.id).where(Membership.member_id == member.id,
                                            Membership.community_id.not_in(coordinated))
    return not db.session.scalar(select(elsewhere.exists()))


def update_member(actor: Coordinator, membership: Membership, *, organization: str | None, role: str,
                  name: str | None = None, email: str | None = None, language: str | None = None,
                  digest_frequency: str | None = None) -> Membership:
    """Edit a member here; the caller commits.

    Organization and role belong to this community. Name, address, language
    and digest frequency are the person's: None leaves one as it is, and a
    change is refused unless `may_change_person`. A new name or language is what
    every community calls the person and mails them in, which only reaches communities the actor
    coordinates (or any, for an admin).
    """
    member = membership.member
    person = {"name": name, "email": email, "language": language, "digest_frequency": digest_frequency}
    if any(value is not None for value in person.values()) and not may_change_person(actor, member):
        current = {"name": membership.name, "email": member.email, "language": membership.language,
                   "digest_frequency": member.digest_frequency}
        if any(value is not None and value != current[key] for key, value in person.items()):
            raise DomainError(LOCKED_EXPLANATION)
        name = email = language = digest_frequency = None
    _check_choices(language or member.language, role, digest_frequency)
    _check_lengths(membership.name, organization)
    changes = {}
    if name is not None and normalize.text(name) != membership.name:
        changes.update(set_person_name(member, name))
    if email is not None:
        address = normalize.email_address(email)
        if address != member.email and db.session.scalar(select(Member).where(Member.email == address)):
            raise DomainError(_("Another member already uses %(address)s.", address=address), "email")
        email = address
    if language is not None:
        changes.update(set_person_language(member, language))
    new = {"email": email, "digest_frequency": digest_frequency}
    changes.update(_assign(member, {k: v for k, v in new.items() if v is not None}))
    org = organization_named(organization)
    changes.update(_assign(membership, {"organization_id": org.id if org else None, "role": role}))
    if changes:
        audit.record(actor, "member.update", "member", member.id, membership.community_id, changes=changes)
    return membership


def set_organization_contact(actor: Coordinator, membership: Membership, contact: bool) -> None:
    """Make this member their organization's contact, or stop it; the caller commits.

    The contact receives the organization's edition of each digest of the communities where they are an active
    member (service.digests): how the organization's people took part. An organization has one contact, so
    choosing another replaces the one before."""
    organization = db.session.get(Organization, membership.organization_id) if membership.organization_id else None
    member_id = membership.member_id
    if contact and organization is None:
        raise DomainError(_("Give the member an organization before making them its contact."),
                          "organization_contact")
    if organization is None or (organization.contact_member_id == member_id) == contact:
        return
    before = organization.contact_member_id
    organization.contact_member_id = member_id if contact else None
    audit.record(actor, "organization.contact", "member", member_id, membership.community_id,
                 organization=organization.name,
                 changes={"contact_member_id": [before, organization.contact_member_id]})


def set_person_name(member: Member, name: str) -> dict:
    """Give the person this name in every community; {"name": [old, new]} if that changed anything."""
    name = normalize.text(name)
    if not name:
        raise DomainError(_("A name is required."), "name")
    _check_lengths(name, None)
    return _set_everywhere(member, "name", name)


def set_person_language(member: Member, language: str) -> dict:
    """Mail the person in this language in every community; {"language": [old, new]} if that changed anything."""
    _check_choices(language)
    return _set_everywhere(member, "language", language)


def _set_everywhere(member: Member, field: str, value: str) -> dict:
    """Set `field` on the person and on each of their memberships; {field: [old, new]} if that changed anything."""
    differing = [m for m in db.session.scalars(select(Membership).where(Membership.member_id == member.id))
                 if getattr(m, field) != value]
    if getattr(member, field) == value and not differing:
        return {}
    old = getattr(member, field)
    for target in (member, *differing):
        setattr(target, field, value)
    return {field: [old, value]}


def _assign(target, values: dict) -> dict:
    """Set the values that differ on `target`; {field: [old, new]} for each one set."""
    changes = {k: [getattr(target, k), v] for k, v in values.items() if getattr(target, k) != v}
    for key, (_old, value) in changes.items():
        setattr(target, key, value)
    return changes


def set_membership_status(actor: Coordinator, membership: Membership, status: str) -> Membership:
    """Deactivate (no more community mail, history kept) or reactivate a membership."""
    if status not in ("active", "inactive") or membership.status == status:
        return membership
    membership.status = status
    action = "member.deactivate" if status == "inactive" else "member.reactivate"
    audit.record(actor, action, "member", membership.member_id, membership.community_id)
    return membership
