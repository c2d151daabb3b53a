"""What needs a coordinator: the "needs you" list on the dashboard and the summary email of it.

Seven kinds of waiting work, each counted for many communities at once by
one grouped statement (`waiting`): interest-form entries to review,
practices to approve, members asking for a change to the proposed charter,
replies that need a person, posts waiting for a moderator, failed emails and
active members whose address bounces. The dashboard's overview
(service.health_overview) reads replies, failed emails and bounces from the
same function. Counts are kept per community at its figures stamp
(service/figures_stamp.py) and counted again only after a change.

The list shows the communities an account coordinates or leads (observers
change nothing, so nothing waits for them; an admin sees the communities
they hold a role in, like everyone else). Each account chooses how often it
is emailed the list: daily (the default), weekly (on Mondays) or never.
The email is due from 8:00 UTC; its outbox key (account, day or ISO week)
makes it one per period however often the cron process asks, and it is
queued only when something waits. What waits is kept in its outbox row, so
a retry sends the same list.
"""
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import url_for
from flask_babel import force_locale, lazy_gettext as _l
from sqlalchemy import any_, func, literal, select, union_all

from service import audit, clock
from service.errors import DomainError
from service.extensions import db
from service.figures_stamp import Stamps
from service.inbound.inbox import NEEDS_A_PERSON
from service.links import public_url
from service.mailer import queue_coordinator_email
from service.models import (Charter, CharterVote, Community, CommunityCoordinator, Coordinator, InboundMessage,
                            IntakeEntry, Member, Membership, OutboundEmail, Post, Practice)
from service.sql import on_postgresql, one_of

KIND = "needs_summary"
ACTING_ROLES = ("coordinator", "leader")
FREQUENCIES = ("daily", "weekly", "never")
WEEKLY_ON = 0          # Monday
DUE_FROM_HOUR = 8      # UTC
# Each kind of waiting work, in the order it is listed: (name, label, endpoint, anchor).
KINDS = (
    ("intake", _l("Interest form entries to review"), "intake.index", None),
    ("practices", _l("Practices waiting for approval"), "practices.index", None),
    ("charter_changes", _l("Charter change requests"), "charters.index", None),
    ("replies_waiting", _l("Replies that need a person"), "inbox.index", None),
    ("posts_waiting", _l("Posts waiting for a moderator"), "moderation.index", None),
    ("failed_emails", _l("Emails that failed"), "outbox.index", None),
    ("bouncing", _l("Members whose address bounces"), "communities.show", "not-receiving"),
)
FREQUENCY_LABELS = {"daily": _l("Every day"), "weekly": _l("Every Monday"), "never": _l("Never")}


@dataclass
class Waiting:
    """What waits in one community: a count per kind (only those above zero)."""
    community: Community
    counts: dict[str, int] = field(default_factory=dict)

    def items(self, external: bool = False) -> list[dict]:
        """Each waiting kind with its label, count and the link to the page that deals with it."""
        build = public_url if external else url_for
        found = []
        for name, label, endpoint, anchor in KINDS:
            if self.counts.get(name):
                arguments = ({"community": self.community.id} if endpoint == "outbox.index" else
                             {"community_id": self.community.id})
                if name == "failed_emails":
                    arguments["status"] = "failed"
                url = build(endpoint, **arguments) + (f"#{anchor}" if anchor else "")
                found.append({"kind": name, "label": str(label), "count": self.counts[name], "url": url})
        return found


def waiting(community_ids: list[int], kinds: tuple[str, ...] | None = None,
            stamps: Stamps | None = None) -> dict[int, dict[str, int]]:
    """{community id: {kind: count}} of what waits, the zero counts left out. Counts kept at the community's
    current figures stamp are read as kept (service/figures_stamp.py); the others are counted in one statement,
    grouped per community, whatever their number, and kept. `kinds` limits it to some of KINDS' names;
    `stamps`, when the caller read them already, are these communities' stamps."""
    if not community_ids:
        return {}
    stamps = stamps or Stamps(community_ids, clock.now())
    counts = {community_id: stamps.waiting(community_id) for community_id in community_ids}
    missing = [community_id for community_id, found in counts.items() if found is None]
    if missing:
        found = _count(missing)
        fresh = {community_id: found.get(community_id, {}) for community_id in missing}
        stamps.keep_waiting(fresh)
        counts.update(fresh)
    wanted = set(kinds or (name for name, *_rest in KINDS))
    result = {community_id: {name: number for name, number in found.items() if name in wanted and number}
              for community_id, found in counts.items()}
    return {community_id: found for community_id, found in result.items() if found}


def _count(ids: list[int]) -> dict[int, dict[str, int]]:
    """What waits in these communities, every kind, counted now in one statement."""
    def per_community(name: str, query):
        return query.add_columns(literal(name).label("kind")).group_by(query.selected_columns[0])

    bounced = select(Member.id).where(Member.status == "bounced")
    # On PostgreSQL the few bounced members' ids become an array first, so their memberships are found by
    # member_id's index (joined, the planner read every membership: 40 ms for 50,000).
    bouncing = (Membership.member_id == any_(func.array(bounced.scalar_subquery())) if on_postgresql()
                else Membership.member_id.in_(bounced))
    queries = {
        "intake": select(IntakeEntry.community_id, func.count()).where(
            IntakeEntry.status == "pending", one_of(IntakeEntry.community_id, ids)),
        "practices": select(Practice.community_id, func.count()).where(
            Practice.status == "pending", one_of(Practice.community_id, ids)),
        "charter_changes": select(Charter.community_id, func.count()).join(
            CharterVote, CharterVote.charter_id == Charter.id).where(
            Charter.status == "proposed", CharterVote.decision == "change", one_of(Charter.community_id, ids)),
        "replies_waiting": select(InboundMessage.community_id, func.count()).where(
            InboundMessage.status.in_(NEEDS_A_PERSON), one_of(InboundMessage.community_id, ids)),
        "posts_waiting": select(Post.community_id, func.count()).where(
            Post.status == "waiting", one_of(Post.community_id, ids)),
        "failed_emails": select(OutboundEmail.community_id, func.count()).where(
            OutboundEmail.status == "failed", one_of(OutboundEmail.community_id, ids)),
        "bouncing": select(Membership.community_id, func.count()).where(
            bouncing, one_of(Membership.community_id, ids), Membership.status == "active"),
    }
    found: dict[int, dict[str, int]] = {}
    for community_id, number, name in db.session.execute(
            union_all(*(per_community(name, query) for name, query in queries.items()))):
        if number:
            found.setdefault(community_id, {})[name] = number
    return found


def acting_communities(account: Coordinator) -> list[Community]:
    """The communities this account coordinates or leads (not archived), by name."""
    return list(db.session.scalars(
        select(Community).join(CommunityCoordinator, CommunityCoordinator.community_id == Community.id)
        .where(CommunityCoordinator.coordinator_id == account.id, CommunityCoordinator.role.in_(ACTING_ROLES),
               Community.archived_at.is_(None))
        .order_by(Community.name, Community.id)))


def for_account(account: Coordinator) -> list[Waiting]:
    """What waits for this account, community by community (those where nothing waits left out)."""
    communities = acting_communities(account)
    counts = waiting([community.id for community in communities])
    return [Waiting(community, counts[community.id]) for community in communities if community.id in counts]


def for_rows(rows, counts: dict[int, dict[str, int]]) -> list[Waiting]:
    """`for_account` from the dashboard's community rows (communities.visible_community_rows, with the account's
    role in each, by name) and the `waiting` it counted for them already: nothing more to read."""
    return [Waiting(row, counts[row.id]) for row in rows
            if row.role in ACTING_ROLES and row.archived_at is None and row.id in counts]


def for_community(account: Coordinator, community: Community) -> list[Waiting] | None:
    """What waits in this one community, for its community page (an empty list when nothing waits); None when
    the account neither coordinates nor leads it (an observer, an admin without a role): nothing waits for them."""
    role = db.session.scalar(select(CommunityCoordinator.role).where(
        CommunityCoordinator.community_id == community.id, CommunityCoordinator.coordinator_id == account.id))
    if role not in ACTING_ROLES or community.archived_at is not None:
        return None
    counts = waiting([community.id]).get(community.id)
    return [Waiting(community, counts)] if counts else []


# --- the summary email ----------------------------------------------------------------------------------

def set_frequency(actor: Coordinator, frequency: str) -> bool:
    """Choose how often this account is emailed what waits; True if it changed. The caller commits."""
    if frequency not in FREQUENCIES:
        raise DomainError(str(_l("Choose every day, every Monday or never.")), "frequency")
    if actor.needs_summary == frequency:
        return False
    previous, actor.needs_summary = actor.needs_summary, frequency
    audit.record(actor, "account.needs_summary", "coordinator", actor.id, None, previous=previous, now=frequency)
    return True


def period_key(account: Coordinator, moment: datetime) -> str | None:
    """The outbox key of the summary due now for this account, or None when none is due (too early in the day,
    not Monday for a weekly one, or never). `moment` is in UTC."""
    if account.needs_summary == "never" or moment.hour < DUE_FROM_HOUR:
        return None
    if account.needs_summary == "weekly":
        if moment.weekday() != WEEKLY_ON:
            return None
        year, week, _day = moment.isocalendar()
        return f"{KIND}:{account.id}:{year}-W{week:02d}"
    return f"{KIND}:{account.id}:{moment:%Y-%m-%d}"


def queue_due(moment: datetime | None = None) -> int:
    """Queue the summary to every coordinator and leader due one now, when something waits for them and it is
    not in the outbox yet; returns how many emails were queued."""
    moment = (moment or clock.now()).astimezone(timezone.utc)
    accounts: dict[int, tuple[Coordinator, list[Community]]] = {}
    for account, community in db.session.execute(
            select(Coordinator, Community)
            .join(CommunityCoordinator, CommunityCoordinator.coordinator_id == Coordinator.id)
            .join(Community, Community.id == CommunityCoordinator.community_id)
            .where(Coordinator.active, Coordinator.needs_summary != "never", Community.archived_at.is_(None),
                   CommunityCoordinator.role.in_(ACTING_ROLES))
            .order_by(Coordinator.id, Community.name, Community.id)):
        accounts.setdefault(account.id, (account, []))[1].append(community)
    wanted = {}
    for account, communities in accounts.values():
        email_key = period_key(account, moment)
        if email_key is not None:
            wanted[email_key] = (account, communities)
    if not wanted:
        return 0
    sent = set(db.session.scalars(select(OutboundEmail.idempotency_key)
                                  .where(one_of(OutboundEmail.idempotency_key, list(wanted)))))
    wanted = {key: value for key, value in wanted.items() if key not in sent}
    counts = waiting(sorted({c.id for _account, communities in wanted.values() for c in communities}))
    queued = 0
    for email_key, (account, communities) in wanted.items():
        lines = [{"community_id": c.id, "counts": counts[c.id]} for c in communities if c.id in counts]
        if lines:
            queued += queue_coordinator_email(KIND, account, email_key,
                                              {"coordinator_id": account.id, "communities": lines})
    db.session.commit()
    return queued


def email_extras(row: OutboundEmail) -> dict:
    """What the summary's templates need: the account, its language, and each community's waiting work in it."""
    account = db.session.get(Coordinator, row.context["coordinator_id"])
    if account is None or not account.active:
        raise ValueError("the account no longer exists or is disabled")
    blocks = []
    with force_locale(account.language):
        for line in row.context["communities"]:
            community = db.session.get(Community, line["community_id"])
            if community is not None:
                blocks.append({"community": community,
                               "lines": Waiting(community, line["counts"]).items(external=True)})
        settings_url = public_url("needs_you.settings")
    return {"coordinator": account, "language": account.language, "blocks": blocks, "settings_url": settings_url,
            "frequency": account.needs_summary}
