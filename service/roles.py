"""Who runs a community from the dashboard: inviting people by email, changing and removing their roles, and the
TTA coordinator stepping back so that the community's leaders run it.

Roles are per community (CommunityCoordinator.role): a coordinator (TTA staff)
and a leader (a member who now runs it) may do everything in it; an observer
only looks. An admin may do everything everywhere. A community always keeps
at least one account that can run it.
"""
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from service import audit, clock, normalize, senders
from service.communities import role_in
from service.coordinators import create_coordinator, find_coordinator, has_password
from service.errors import DomainError
from service.extensions import db
from service.links import public_url
from service.mailer import queue_coordinator_email
from service.models import AuditEvent, Community, CommunityCoordinator, Coordinator, Member, Membership
from service.models.communities import COMMUNITY_ROLES
from service.password_reset import INVITATION, account_for

RUNNING_ROLES = ("coordinator", "leader")  # the roles that can run a community (and an admin)
STEPPED_BACK = "community.stepped_back"


def grantable_roles(actor_role: str | None) -> tuple[str, ...]:
    """The roles someone with `actor_role` may give (and take away): a leader runs the community with other
    leaders and may keep an observer, but names and removes no TTA coordinator."""
    if actor_role in ("admin", "coordinator"):
        return COMMUNITY_ROLES
    if actor_role == "leader":
        return ("leader", "observer")
    return ()


def _require(actor: Coordinator, community: Community, *roles: str) -> str:
    role = role_in(actor, community.id)
    if role not in roles:
        raise DomainError(_("Your role in this community does not allow this."))
    return role


@dataclass
class Person:
    """An account with a role in a community, as the "People who run it" list shows it."""
    grant: CommunityCoordinator
    account: Coordinator

    @property
    def invited(self) -> bool:
        """Invited but has not set a password yet."""
        return not has_password(self.account)


def people(community: Community) -> list[Person]:
    """Every account with a role in the community: coordinators, leaders, then observers, each by name."""
    order = {role: position for position, role in enumerate(COMMUNITY_ROLES)}
    rows = db.session.execute(
        select(CommunityCoordinator, Coordinator).join(Coordinator, Coordinator.id == CommunityCoordinator.coordinator_id)
        .where(CommunityCoordinator.community_id == community.id)).all()
    return sorted((Person(grant, account) for grant, account in rows),
                  key=lambda person: (order.get(person.grant.role, 9), person.account.name.lower()))


def grant_or_none(community: Community, grant_id: int) -> CommunityCoordinator | None:
    """The role `grant_id` in this community, or None (views answer 404)."""
    grant = db.session.get(CommunityCoordinator, grant_id)
    return grant if grant is not None and grant.community_id == community.id else None


def _lock(community: Community) -> None:
    """Lock the community's row (and read it afresh) until the commit: changes to who runs it take turns, so two
    removals at once cannot each leave the other as the last runner, nor two step backs or two invitations of
    one person both happen."""
    db.session.refresh(community, with_for_update=True)


def _can_run_now(person: Person) -> bool:
    """A coordinator or leader who can log in (an invited one has no password until their link is used)."""
    return person.grant.role in RUNNING_ROLES and person.account.active and not person.invited


def _a_leader_can_run(everyone: list[Person]) -> bool:
    return any(person.grant.role == "leader" and _can_run_now(person) for person in everyone)


def _keep_someone_running(community: Community, grant: CommunityCoordinator, new_role: str | None) -> None:
    if grant.role not in RUNNING_ROLES or new_role in RUNNING_ROLES:
        return
    _lock(community)
    if not any(_can_run_now(person) for person in people(community) if person.grant.id != grant.id):
        raise DomainError(_("Someone must be able to run this community: name another coordinator or leader "
                            "first (an invited one counts once they have chosen their password)."))


def _membership_of(community: Community, address: str) -> Membership | None:
    return db.session.scalar(select(Membership).join(Member, Member.id == Membership.member_id).where(
        Membership.community_id == community.id, Member.email == address))


def _role_changed(community: Community, account: Coordinator, role: str | None) -> None:
    """What follows an account's new role here (None: removed): a leader account who is a member of the
    community is its leader on the members list too, and its mail asks for the leaders' names again."""
    senders.forget(community)
    membership = _membership_of(community, account.email)
    if membership is None:
        return
    if role == "leader":
        membership.role = "leader"
    elif membership.role == "leader":
        membership.role = "member"


def invite(actor: Coordinator, community: Community, *, email: str, role: str, name: str = "",
           language: str = "en") -> Coordinator:
    """Give the person with this address a role in the community and email them, audited; the caller commits.

    A new address gets an account with no password and an email with a link
    to choose one (INVITATION: a week, once); an existing account gets the
    role and an email saying so.
    """
    actor_role = _require(actor, community, "admin", *RUNNING_ROLES)
    if role not in grantable_roles(actor_role) or role == "observer":
        raise DomainError(_("Choose coordinator or leader."), "role")
    address = normalize.email_address(email)
    _lock(community)  # two invitations of one address here at once: the second finds the first's role
    account = find_coordinator(address)
    new_account = account is None
    if new_account:
        membership = _membership_of(community, address)
        account = create_coordinator(address, normalize.text(name) or (membership.name if membership else ""),
                                     None, language=language if language in ("en", "es") else "en")
        db.session.flush()
    elif not account.active:
        raise DomainError(_("The account of %(address)s is disabled: an administrator must enable it first.",
                            address=address), "email")
    elif db.session.scalar(select(CommunityCoordinator.id).where(
            CommunityCoordinator.community_id == community.id, CommunityCoordinator.coordinator_id == account.id)):
        raise DomainError(_("%(address)s already has a role here: change it in the list.", address=address),
                          "email")
    db.session.add(CommunityCoordinator(community_id=community.id, coordinator_id=account.id, role=role))
    _role_changed(community, account, role)
    audit.record(actor, "community.person_invited", "coordinator", account.id, community.id, address=address,
                 role=role, new_account=new_account)
    _send_invitation(actor, community, account, role)
    return account


def invite_again(actor: Coordinator, community: Community, grant: CommunityCoordinator) -> None:
    """Send a fresh invitation to someone who has not set a password yet (their link may have expired)."""
    _require(actor, community, "admin", *RUNNING_ROLES)
    account = db.session.get(Coordinator, grant.coordinator_id)
    if has_password(account):
        raise DomainError(_("%(address)s has already set a password.", address=account.email))
    audit.record(actor, "community.person_invited_again", "coordinator", account.id, community.id,
                 address=account.email, role=grant.role)
    _send_invitation(actor, community, account, grant.role)


def _send_invitation(actor: Coordinator, community: Community, account: Coordinator, role: str) -> None:
    kind = "role_granted" if has_password(account) else "coordinator_invitation"
    key = f"{kind}:{community.id}:{account.id}:{clock.now().isoformat()}"  # each invitation is a new email
    queue_coordinator_email(kind, account, key, {"coordinator_id": account.id, "community_id": community.id,
                                                 "role": role, "invited_by": actor.name})


def _tell(actor: Coordinator, community: Community, account: Coordinator, kind: str, **context) -> None:
    """Email the account that its role here changed or ended (not when it changed its own: it knows)."""
    if account.id == actor.id:
        return
    key = f"{kind}:{community.id}:{account.id}:{clock.now().isoformat()}"  # each change is a new email
    queue_coordinator_email(kind, account, key, {"coordinator_id": account.id, "community_id": community.id,
                                                 "changed_by": actor.name, **context}, community)


def invitation_extras(row) -> dict:
    """What an email about a role in a community needs at send time: the account, the community, and a freshly
    signed link to choose a password (or, for an account that has one, the login page)."""
    account = account_for(row)
    community = db.session.get(Community, row.context["community_id"])
    if community is None:
        raise DomainError("the community no longer exists")
    url = public_url("auth.login") if has_password(account) else INVITATION.url(account)
    return {"coordinator": account, "language": account.language, "community_name": community.name,
            "url": url, "days": INVITATION.max_age.days}


def change_role(actor: Coordinator, community: Community, grant: CommunityCoordinator, role: str) -> bool:
    """Give an account another role here, audited; False if it had it already. The caller commits."""
    allowed = grantable_roles(_require(actor, community, "admin", *RUNNING_ROLES))
    if role not in allowed or grant.role not in allowed:
        raise DomainError(_("Your role in this community does not allow this change."), "role")
    if grant.role == role:
        return False
    _keep_someone_running(community, grant, role)
    account = db.session.get(Coordinator, grant.coordinator_id)
    audit.record(actor, "community.role_changed", "coordinator", account.id, community.id, address=account.email,
                 role=[grant.role, role])
    previous, grant.role = grant.role, role
    _role_changed(community, account, role)
    _tell(actor, community, account, "role_changed", role=role, previous_role=previous)
    return True


def remove(actor: Coordinator, community: Community, grant: CommunityCoordinator) -> None:
    """Take an account's role here away (the account stays), audited; the caller commits."""
    if grant.role not in grantable_roles(_require(actor, community, "admin", *RUNNING_ROLES)):
        raise DomainError(_("Your role in this community does not allow this change."))
    _keep_someone_running(community, grant, None)
    account = db.session.get(Coordinator, grant.coordinator_id)
    audit.record(actor, "community.person_removed", "coordinator", account.id, community.id,
                 address=account.email, role=grant.role)
    _role_changed(community, account, None)
    _tell(actor, community, account, "role_removed", role=grant.role)
    db.session.delete(grant)


def step_back(actor: Coordinator, community: Community, keep_read_only: bool) -> None:
    """Hand the community to its leaders: every TTA coordinator here becomes an observer (when the leaders
    agreed) or leaves, audited with their ids so `undo_step_back` can restore them. The caller commits."""
    _require(actor, community, "admin", "coordinator")
    _lock(community)
    if community.stepped_back_at is not None:
        raise DomainError(_("This community is already in its leaders' hands."))
    everyone = people(community)
    if not _a_leader_can_run(everyone):
        raise DomainError(_("Invite at least one leader first, and wait until they have chosen their password: "
                            "the community needs someone to run it."))
    coordinators = [person.grant for person in everyone if person.grant.role == "coordinator"]
    for grant in coordinators:
        if keep_read_only:
            grant.role = "observer"
        else:
            db.session.delete(grant)
    community.stepped_back_at = clock.now()
    audit.record(actor, STEPPED_BACK, "community", community.id, community.id, keep_read_only=keep_read_only,
                 coordinator_ids=[grant.coordinator_id for grant in coordinators])
    for person in everyone:  # the leaders hear that the community, and its mail, are now theirs
        if person.grant.role == "leader" and _can_run_now(person):
            queue_coordinator_email("community_handed_over", person.account,
                                    f"handed_over:{community.id}:{person.account.id}:{community.stepped_back_at}",
                                    {"coordinator_id": person.account.id, "community_id": community.id,
                                     "handed_by": actor.name, "kept_read_only": keep_read_only})


def undo_step_back(actor: Coordinator, community: Community) -> None:
    """The TTA coordinators who stepped back coordinate again (a leader's or an admin's call), audited."""
    _require(actor, community, "admin", "leader")
    _lock(community)
    if community.stepped_back_at is None:
        raise DomainError(_("The TTA coordinator has not stepped back from this community."))
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.community_id == community.id, AuditEvent.action == STEPPED_BACK).order_by(AuditEvent.id.desc()))
    restored = []
    for coordinator_id in (event.details or {}).get("coordinator_ids", []) if event else []:
        if db.session.get(Coordinator, coordinator_id) is None:
            continue
        grant = db.session.scalar(select(CommunityCoordinator).where(
            CommunityCoordinator.community_id == community.id, CommunityCoordinator.coordinator_id == coordinator_id))
        if grant is None:
            db.session.add(CommunityCoordinator(community_id=community.id, coordinator_id=coordinator_id,
                                                role="coordinator"))
        else:
            grant.role = "coordinator"
        restored.append(coordinator_id)
    community.stepped_back_at = None
    audit.record(actor, "community.step_back_undone", "community", community.id, community.id,
                 coordinator_ids=restored)


def section(actor: Coordinator, community: Community) -> dict:
    """What the community page's "People who run it" section shows this account."""
    role = role_in(actor, community.id)
    everyone = people(community)
    return {"role": role, "people": everyone, "may_manage": role in ("admin", *RUNNING_ROLES),
            "grantable": grantable_roles(role),
            "may_step_back": role in ("admin", "coordinator") and community.stepped_back_at is None,
            "has_leader": _a_leader_can_run(everyone),
            "may_undo": role in ("admin", "leader") and community.stepped_back_at is not None}


def read_only_communities(actor: Coordinator):
    """SQL: the ids of the communities where `actor` is an observer (they may look, not change)."""
    return select(CommunityCoordinator.community_id).where(
        CommunityCoordinator.coordinator_id == actor.id, CommunityCoordinator.role == "observer")


def is_read_only(actor: Coordinator, community_id: int) -> bool:
    """Whether `actor` only observes this community."""
    return role_in(actor, community_id) == "observer"
