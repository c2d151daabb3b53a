"""Communities: who may see them, creating and editing them, and what they contain."""
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from sqlalchemy import Select, and_, func, select

from service import audit, lifecycle, normalize
from service.conversations import attachments
from service.errors import DomainError
from service.extensions import db
from service.models import Community, CommunityCoordinator, Coordinator, Membership, Organization
from service.models.communities import CADENCES, STAGES
from service.models.conversations import MODERATION_MODES, REPLIES_TO

EDITABLE_FIELDS = ("name", "description", "time_zone", "stage", "digest_cadence", "reminder_offsets",
                   "feedback_delay_hours", "moderation", "replies_to", "attachment_limit_kb")
MAX_REMINDERS = 5
MAX_REMINDER_MINUTES = 30 * 24 * 60
DEFAULT_FEEDBACK_DELAY_HOURS = 2
MAX_FEEDBACK_DELAY_HOURS = 7 * 24


def visible_communities_query(coordinator: Coordinator) -> Select:
    """Communities this coordinator may see: all for an admin, their own otherwise."""
    query = select(Community).order_by(Community.name)
    if not coordinator.is_admin:
        query = query.join(CommunityCoordinator).where(CommunityCoordinator.coordinator_id == coordinator.id)
    return query


def visible_community_rows(coordinator: Coordinator) -> list:
    """The visible communities as plain rows of what the dashboard reads (id, name, stage, time zone, when
    archived, and the account's role there, None for an admin without one): loading 50 Community entities cost
    more CPU than the overview's three queries."""
    columns = (Community.id, Community.name, Community.stage, Community.time_zone, Community.archived_at,
               CommunityCoordinator.role)
    if not coordinator.is_admin:
        return db.session.execute(visible_communities_query(coordinator).with_only_columns(*columns)).all()
    own = and_(CommunityCoordinator.community_id == Community.id, CommunityCoordinator.coordinator_id == coordinator.id)
    return db.session.execute(select(*columns).outerjoin(CommunityCoordinator, own).order_by(Community.name)).all()


def role_in(coordinator: Coordinator, community_id: int) -> str | None:
    """What this account is in the community: "admin", "coordinator", "leader", "observer" or None."""
    if coordinator.is_admin:
        return "admin"
    return db.session.scalar(select(CommunityCoordinator.role).where(
        CommunityCoordinator.community_id == community_id, CommunityCoordinator.coordinator_id == coordinator.id))


def community_for(coordinator: Coordinator, community_id: int) -> Community | None:
    """The community if this coordinator may see it, else None (views answer 404)."""
    return db.session.scalar(visible_communities_query(coordinator).where(Community.id == community_id))


def community_and_role(coordinator: Coordinator, community_id: int) -> tuple[Community | None, str | None]:
    """`community_for` and `role_in` in one statement: (the community or None, the account's role there)."""
    if not coordinator.is_admin:
        found = db.session.execute(visible_communities_query(coordinator).add_columns(CommunityCoordinator.role)
                                   .where(Community.id == community_id)).first()
        return (found[0], found[1]) if found else (None, None)
    return db.session.get(Community, community_id), "admin"


def _check(fields: dict) -> dict:
    name = normalize.text(fields.get("name"))  # no line breaks: it goes into List-Id headers
    if not name:
        raise DomainError(_("A community needs a name."), "name")
    try:
        ZoneInfo(fields.get("time_zone") or "")
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(_("Choose a time zone from the list."), "time_zone") from None
    if fields.get("stage", "forming") not in STAGES:
        raise DomainError(_("Unknown stage."), "stage")
    if fields.get("digest_cadence", "biweekly") not in CADENCES:
        raise DomainError(_("Unknown digest cadence."), "digest_cadence")
    if fields.get("moderation", "new") not in MODERATION_MODES:
        raise DomainError(_("Choose which posts wait for a moderator."), "moderation")
    if fields.get("replies_to", "community") not in REPLIES_TO:
        raise DomainError(_("Choose where a reply to a post goes."), "replies_to")
    values = {**fields, "name": name, "description": normalize.text(fields.get("description"), multiline=True)}
    if "reminder_offsets" in fields:
        values["reminder_offsets"] = _reminder_offsets(fields["reminder_offsets"])
    if "feedback_delay_hours" in fields:
        values["feedback_delay_hours"] = _feedback_delay(fields["feedback_delay_hours"])
    if "attachment_limit_kb" in fields:
        values["attachment_limit_kb"] = attachments.limit_kb(fields["attachment_limit_kb"])
    return values


def _reminder_offsets(value) -> list[int] | None:
    """"1440, 60" (or a list) as distinct whole minutes, largest first; empty means the default (None)."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value or [])
    offsets = set()
    for item in items:
        text = str(item).strip()
        if not text.isdecimal() or not 0 < int(text) <= MAX_REMINDER_MINUTES:
            raise DomainError(_("Reminders are whole minutes before the meeting, between 1 and %(max)d, "
                                "separated by commas, like 1440, 60.", max=MAX_REMINDER_MINUTES), "reminder_offsets")
        offsets.add(int(text))
    if len(offsets) > MAX_REMINDERS:
        raise DomainError(_("At most %(num)d reminders per meeting.", num=MAX_REMINDERS), "reminder_offsets")
    return sorted(offsets, reverse=True) or None


def _feedback_delay(value) -> int:
    """Whole hours between 0 and a week; empty means the default."""
    if value is None or value == "":
        return DEFAULT_FEEDBACK_DELAY_HOURS
    if isinstance(value, bool) or not str(value).strip().isdecimal() or int(value) > MAX_FEEDBACK_DELAY_HOURS:
        raise DomainError(_("The feedback delay is a whole number of hours from 0 to %(max)d.",
                            max=MAX_FEEDBACK_DELAY_HOURS), "feedback_delay_hours")
    return int(value)


def create_community(actor: Coordinator, **fields) -> Community:
    """Create a community coordinated by `actor`; the caller commits. A leader's account runs the communities
    it was given and starts none (is_staff below): new communities are the TTA program's to open."""
    if not is_staff(actor):
        raise DomainError(_("A leader's account runs its own community; ask the TTA program's staff to start a "
                            "new one."))
    values = _check(fields)
    community = Community(**{k: v for k, v in values.items() if k in EDITABLE_FIELDS})
    community.coordinators.append(CommunityCoordinator(coordinator_id=actor.id))
    db.session.add(community)
    db.session.flush()
    audit.record(actor, "community.create", "community", community.id, community.id, name=community.name)
    return community


def update_community(actor: Coordinator, community: Community, **fields) -> Community:
    """Change a community's settings, auditing what changed; the caller commits.

    The stage may go back, or forward one step; a skip is refused (service/lifecycle.py).
    """
    values = _check(fields)
    if "stage" in values:
        lifecycle.check_step(community.stage, values["stage"])
    changes = {}
    for key in EDITABLE_FIELDS:
        if key in values and getattr(community, key) != values[key]:
            changes[key] = [getattr(community, key), values[key]]
            setattr(community, key, values[key])
    if changes:
        audit.record(actor, "community.update", "community", community.id, community.id, changes=changes)
    return community


def organizations(community: Community) -> list[tuple[Organization, int]]:
    """Organizations with active members here, with how many members each has."""
    rows = db.session.execute(
        select(Organization, func.count(Membership.id))
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.community_id == community.id, Membership.status == "active")
        .group_by(Organization.id).order_by(Organization.name))
    return [(org, count) for org, count in rows]


def is_staff(actor: Coordinator, held: set[str] | None = None) -> bool:
    """Whether the account is TTA staff: an admin, or one that coordinates a community or holds no leader role
    (made on the command line, or a coordinator who stepped back). A leader's account runs its community only.
    `held` is every role the account holds, when the caller read them already."""
    if actor.is_admin:
        return True
    if held is None:
        held = set(db.session.scalars(select(CommunityCoordinator.role).where(
            CommunityCoordinator.coordinator_id == actor.id)))
    return "coordinator" in held or "leader" not in held
