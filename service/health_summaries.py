"""The monthly health summary: early each month (in the community's time zone), every coordinator and leader of a
community is emailed last month's health figures and how each changed since the month before.

The cron process's tick (and `flask mail sweep`) asks every minute; the
outbox key (community, month, account) makes it one email per person per
month however often it asks. It is due from 8:00 on the 1st to the end of the
7th, local time, so a week-long outage still sends it, and a leader named
mid-month does not get an old month's summary. The figures are computed when
the email is queued and kept in its outbox row, so a retry sends the same
numbers. Observers, disabled accounts and archived communities get none.
"""
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import force_locale, gettext as _
from sqlalchemy import select

from service import clock, community_health, health_words, moments
from service.extensions import db
from service.links import public_url
from service.mailer import queue_coordinator_email
from service.models import Community, CommunityCoordinator, Coordinator, OutboundEmail
from service.sql import one_of

KIND = "health_summary"
RECIPIENT_ROLES = ("coordinator", "leader")
DUE_FROM_HOUR = 8
DUE_UNTIL_DAY = 7


def due_month(community: Community, moment: datetime) -> date | None:
    """The month whose summary is due now (its first day), or None: not in the first week, or the community
    did not exist by that month's end."""
    zone = ZoneInfo(community.time_zone)
    local = moment.astimezone(zone)
    if local.day > DUE_UNTIL_DAY or (local.day == 1 and local.hour < DUE_FROM_HOUR):
        return None
    this_month = local.date().replace(day=1)
    if clock.aware(community.created_at) >= datetime.combine(this_month, datetime.min.time(), zone):
        return None
    return (this_month - timedelta(days=1)).replace(day=1)


def key(community_id: int, month: date, coordinator_id: int) -> str:
    return f"{KIND}:{community_id}:{month:%Y-%m}:{coordinator_id}"


def queue_due(moment: datetime | None = None) -> int:
    """Queue every summary due now that is not in the outbox yet; returns how many emails were queued."""
    moment = moment or clock.now()
    recipients: dict[int, tuple[Community, list[Coordinator]]] = {}
    for community, coordinator in db.session.execute(
            select(Community, Coordinator)
            .join(CommunityCoordinator, CommunityCoordinator.community_id == Community.id)
            .join(Coordinator, CommunityCoordinator.coordinator_id == Coordinator.id)
            .where(Community.archived_at.is_(None), CommunityCoordinator.role.in_(RECIPIENT_ROLES), Coordinator.active)
            .order_by(Community.id, Coordinator.id)):
        recipients.setdefault(community.id, (community, []))[1].append(coordinator)
    wanted = {}
    for community, coordinators in recipients.values():
        month = due_month(community, moment)
        if month is not None:
            wanted.update({key(community.id, month, c.id): (community, month, c) for c in coordinators})
    if not wanted:
        return 0
    sent = set(db.session.scalars(select(OutboundEmail.idempotency_key)
                                  .where(one_of(OutboundEmail.idempotency_key, list(wanted)))))
    queued, figures = 0, {}
    for email_key, (community, month, coordinator) in wanted.items():
        if email_key in sent:
            continue
        if community.id not in figures:
            figures[community.id] = summary_context(community, moment)
        queued += queue_coordinator_email(KIND, coordinator, email_key,
                                          {**figures[community.id], "coordinator_id": coordinator.id},
                                          community=community)
    db.session.commit()
    return queued


def summary_context(community: Community, moment: datetime) -> dict:
    """Last month's figures and the month before's, as stored in the outbox row."""
    before, last, _current = community_health.counted(community, 3, moment)
    return {"community_id": community.id, "month": last.month.isoformat(), "before_month": before.month.isoformat(),
            "figures": _values(last), "before": _values(before)}


def _values(month: community_health.MonthHealth) -> dict:
    return {name: getattr(month, name) for name, _label, _kind in community_health.FIGURES}


def email_extras(row: OutboundEmail) -> dict:
    """What the summary's templates need: the account, its language, and each figure in words in it."""
    coordinator = db.session.get(Coordinator, row.context["coordinator_id"])
    community = db.session.get(Community, row.context["community_id"])
    if coordinator is None or not coordinator.active or community is None:
        raise ValueError("the account or the community no longer exists, or the account is disabled")
    language = coordinator.language
    month, before_month = (date.fromisoformat(row.context[name]) for name in ("month", "before_month"))
    with force_locale(language):
        lines = []
        for name, label, kind in community_health.FIGURES:
            value, earlier = row.context["figures"].get(name), row.context["before"].get(name)
            moved = health_words.change(value, earlier, kind, language)
            if moved is not None and kind == "percent":
                moved = _("%(change)s points", change=moved)
            lines.append({"label": str(label), "value": health_words.formatted(value, kind, language),
                          "before": health_words.formatted(earlier, kind, language),
                          "change": moved})
    return {"coordinator": coordinator, "language": language, "community": community, "lines": lines,
            "month_name": moments.text(month, None, language, "month"),
            "before_name": moments.text(before_month, None, language, "month"),
            "health_url": public_url("community_health.show", community_id=community.id)}
