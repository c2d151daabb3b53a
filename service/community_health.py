"""Health over time: how a community's members take part, month by month in the community's time zone.

Every figure is a GROUP BY over its source table, the month found by a CASE
over the month boundaries (computed here in the community's zone, so a
meeting at 23:30 on the last evening of a month counts in that month
whatever UTC says): a few queries for all the months together, whatever
their number. "Active" members are those who answered an invitation or a
form, replied by email, attended a meeting or shared a practice in the 60
days before each month's end (before now, for the current month).
Members who bounced or unsubscribed are read from the audit trail, which
records when each member's address was suppressed.

Figures are kept in health_month. Settled months stay as counted then; the
current month and the one before (answers, attendance and feedback still
come in) are read as kept only while they still hold: while the community's
figures_stamp, which database triggers raise at every change to the rows
counted here, is the one they were counted at, and time alone has not moved
them (an activity leaving the 60-day window, the month's end). Otherwise they
are counted again and kept. So a page shows an answer given a second ago, and
a community whose data did not change costs a read of its kept rows.
The dashboard's overview (service/health_overview.py) reads the kept recent
figures of many communities at once, counting only those that changed.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, any_, case, func, literal, select, text, union_all

from service import clock
from service.extensions import db
from service.figures_stamp import Stamps
from service.models import (AuditEvent, Community, FormAnswer, FormRequest, FormResponse, HealthMonth,
                            InboundMessage, Invitation, Meeting, Membership, Practice)
from service.sql import dialect_insert, on_postgresql, one_of

ACTIVE_DAYS = 60
MONTHS_ON_HEALTH_PAGE = 24
MONTHS_ON_COMMUNITY_PAGE = 12
# The current month and the one before are kept only while the community's stamp says they hold; older months
# are kept as counted then.
LIVE_MONTHS = 2
SUPPRESSIONS = {"member.bounced": "bounced", "member.unsubscribe": "unsubscribed"}
# Every figure a month has, in the order pages and the monthly summary show them: (attribute, label, kind).
FIGURES = (
    ("members", _l("Members"), "count"),
    ("active", _l("Active members (last 60 days)"), "count"),
    ("rsvp_rate", _l("RSVP rate"), "percent"),
    ("attendance_rate", _l("Attendance rate"), "percent"),
    ("usefulness", _l("Feedback: how useful (1–5)"), "mean"),
    ("recommend", _l("Feedback: would recommend (0–10)"), "mean"),
    ("practices", _l("Practices shared"), "count"),
    ("replies", _l("Replies received"), "count"),
    ("bounced", _l("Members whose address started bouncing"), "count"),
    ("unsubscribed", _l("Members who unsubscribed"), "count"),
)


@dataclass
class MonthHealth:
    """One month's figures. Rates and means are None when nothing was there to count."""
    month: date                   # the first day of the month, in the community's zone
    members: int = 0              # active members at the month's end (by when they joined; now, this month)
    invited: int = 0              # invitations to the month's meetings (cancelled meetings left out)
    answered: int = 0             # ... answered yes, maybe or no
    counted: int = 0              # invitations to the month's meetings whose attendance was taken
    attended: int = 0             # ... marked present
    feedback: int = 0             # feedback forms submitted about the month's meetings
    usefulness: float | None = None   # their mean "how useful" rating (1-5)
    recommend: float | None = None    # their mean "would recommend" rating (0-10)
    practices: int = 0            # practices members shared (whatever the review decided)
    replies: int = 0              # mail members sent the community (automatic mail and bounces left out)
    active: int = 0               # members active in the 60 days before the month's end
    bounced: int = 0              # members whose address started bouncing this month
    unsubscribed: int = 0         # members who unsubscribed this month

    @property
    def rsvp_rate(self) -> float | None:
        return self.answered / self.invited if self.invited else None

    @property
    def attendance_rate(self) -> float | None:
        return self.attended / self.counted if self.counted else None


FIELDS = tuple(name for name in MonthHealth.__dataclass_fields__)
FIELD_COLUMNS = tuple(getattr(HealthMonth, name) for name in FIELDS)
GLANCED = ("members", "active", "invited", "answered")  # what the dashboard's overview shows of a month


def month_starts(time_zone: str, count: int, moment: datetime) -> list[datetime]:
    """The local first instants of the last `count` months up to `moment`'s month, and of the month after
    (count + 1 aware datetimes in the zone)."""
    zone = ZoneInfo(time_zone)
    local = moment.astimezone(zone)
    first = local.year * 12 + local.month - 1 - (count - 1)
    return [datetime(number // 12, number % 12 + 1, 1, tzinfo=zone) for number in range(first, first + count + 1)]


def _bucket(column, bounds: list[datetime], before: int = 0):
    """SQL: the index of the first bound the value is earlier than (counting from `before`), else len(bounds)."""
    return case(*[(column < bound, before + index) for index, bound in enumerate(bounds)],
                else_=before + len(bounds))


def counted(community: Community, count: int, moment: datetime | None = None) -> list[MonthHealth]:
    """The last `count` months' figures up to the current one, oldest first, counted now from the source tables."""
    moment = moment or clock.now()
    if on_postgresql():
        # Each of these statements reads a few thousand rows; PostgreSQL would plan some of them with parallel
        # workers, whose start-up took 20 ms of the 26 a statement took (measured by bench/community_health.py).
        db.session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    starts = [start.astimezone(timezone.utc) for start in month_starts(community.time_zone, count, moment)]
    result = [MonthHealth(month=start.astimezone(ZoneInfo(community.time_zone)).date()) for start in starts[:-1]]
    first, after = starts[0], starts[-1]
    for index, invited, answered, taken, attended in _invitations(community, starts):
        result[index].invited, result[index].answered = invited, answered
        result[index].counted, result[index].attended = taken, attended
    for index, responses, usefulness, recommend in _feedback(community, starts):
        result[index].feedback = responses
        result[index].usefulness = float(usefulness) if usefulness is not None else None
        result[index].recommend = float(recommend) if recommend is not None else None
    in_month = _bucket(Practice.created_at, starts[1:])
    for index, number in db.session.execute(
            select(in_month, func.count()).where(Practice.community_id == community.id,
                                                 Practice.created_at >= first, Practice.created_at < after)
            .group_by(in_month)):
        result[index].practices = number
    in_month = _bucket(InboundMessage.received_at, starts[1:])
    for index, number in db.session.execute(
            select(in_month, func.count()).where(_replies(), InboundMessage.community_id == community.id,
                                                 InboundMessage.received_at >= first,
                                                 InboundMessage.received_at < after)
            .group_by(in_month)):
        result[index].replies = number
    for index, action, number in _suppressions(community, starts):
        setattr(result[index], SUPPRESSIONS[action], number)
    ends = [min(end, moment) for end in starts[1:]]  # "as of the month's end": now, for the current month
    for index, number in _active(community, ends):
        result[index].active = number
    joined = _bucket(Membership.created_at, starts[1:])
    members = dict(db.session.execute(
        select(joined, func.count()).where(Membership.community_id == community.id, Membership.status == "active",
                                           Membership.created_at < after)
        .group_by(joined)).all())
    for index, month in enumerate(result):
        month.members = members.get(index, 0) + (result[index - 1].members if index else 0)
    return result


def months(community: Community, count: int = MONTHS_ON_HEALTH_PAGE,
           moment: datetime | None = None) -> list[MonthHealth]:
    """The last `count` months' figures, oldest first, as they are at `moment`: kept months where they still hold
    (the LIVE_MONTHS most recent only while the community's stamp says so), the rest counted now and kept."""
    moment = moment or clock.now()
    wanted = [start.date() for start in month_starts(community.time_zone, count, moment)[:-1]]
    stamp = Stamps([community.id], moment)
    kept = {row.month: row for row in db.session.execute(select(HealthMonth.computed_at, *FIELD_COLUMNS).where(
        HealthMonth.community_id == community.id, HealthMonth.month.in_(wanted)))}
    recent = wanted[-LIVE_MONTHS:]
    if stamp.months_hold(community.id) and all(month in kept for month in wanted) and all(
            clock.aware(kept[month].computed_at) <= moment for month in recent):
        return [_from_row(kept[month]) for month in wanted]
    never_kept = [month for month in wanted[:-LIVE_MONTHS] if month not in kept]
    first = never_kept[0] if never_kept else recent[0]
    live = counted(community, len(wanted) - wanted.index(first), moment)
    keep(community, live, moment, stamp)
    return [_from_row(kept[month]) for month in wanted[:len(wanted) - len(live)]] + live


def _from_row(row) -> MonthHealth:
    return MonthHealth(*row[1:])


def keep(community: Community, found: list[MonthHealth], moment: datetime, stamp: Stamps | None = None) -> None:
    """Store these months' figures (replacing what was kept), in a short transaction of their own: a page that
    only reads still keeps what it counted, and two requests keeping the same month at once both succeed.

    With `stamp`, nothing is kept when the session's own uncommitted changes
    are in the figures; otherwise, when `found` ends with the recent months at
    `moment`, they are marked as holding for the stamp's version until time
    alone would move them."""
    version = stamp.keepable(community.id) if stamp is not None else None
    if not found or (stamp is not None and version is None):
        return
    rows = [{"community_id": community.id, "computed_at": moment, **{name: getattr(m, name) for name in FIELDS}}
            for m in found]
    statement = dialect_insert(HealthMonth)
    statement = statement.on_conflict_do_update(
        index_elements=["community_id", "month"],
        set_={name: getattr(statement.excluded, name) for name in ("computed_at", *FIELDS) if name != "month"})
    marked = version is not None and len(found) >= LIVE_MONTHS
    until = _holds_until(community, moment) if marked else None
    with db.engine.begin() as connection:
        connection.execute(statement, rows)
        if marked:
            stamp.keep_months(connection, community.id, version, until)


def _holds_until(community: Community, moment: datetime) -> datetime:
    """When the current month's figures, as counted at `moment`, may change with no change to the rows: at the
    month's end, when the oldest activity of the last 60 days leaves the window, or when one dated after
    `moment` enters it."""
    month_end = month_starts(community.time_zone, 1, moment)[-1].astimezone(timezone.utc)
    window = timedelta(days=ACTIVE_DAYS)
    events = _activity(community, moment - window, month_end)
    oldest, next_one = db.session.execute(select(
        func.min(case((events.c.at < moment, events.c.at))), func.min(case((events.c.at >= moment, events.c.at))))
    ).one()
    bounds = [month_end] + ([clock.aware(oldest) + window] if oldest is not None else []) + (
        [clock.aware(next_one)] if next_one is not None else [])
    return min(bounds)


def refresh_kept(moment: datetime | None = None) -> int:
    """Count again the recent months of every community whose kept ones no longer hold (the cron process's tick,
    so a page seldom has to); returns how many communities were counted."""
    moment = moment or clock.now()
    communities = db.session.scalars(select(Community).where(Community.archived_at.is_(None))).all()
    stamp = Stamps([community.id for community in communities], moment)
    fresh = kept_recent(communities, stamp)
    stale = [community for community in communities if community.id not in fresh]
    for community in stale:
        keep(community, counted(community, LIVE_MONTHS, moment), moment, stamp)
    return len(stale)


def kept_recent(communities: list[Community], stamp: Stamps) -> dict[int, dict[date, MonthHealth]]:
    """Kept current and previous months of these communities, for those whose kept months hold at the stamp's
    moment: {community id: {month: figures}}, with only the figures the overview shows."""
    moment = stamp.moment
    holding = [community for community in communities if stamp.months_hold(community.id)]
    zones = {zone: [start.date() for start in month_starts(zone, LIVE_MONTHS, moment)[:-1]]
             for zone in {community.time_zone for community in holding}}
    recent = {community.id: zones[community.time_zone] for community in holding}
    found: dict[int, dict[date, MonthHealth]] = {}
    if not recent:
        return found
    dates = sorted({month for months_of in zones.values() for month in months_of})
    rows = db.session.execute(select(HealthMonth.community_id, HealthMonth.computed_at, HealthMonth.month,
                                     *(getattr(HealthMonth, name) for name in GLANCED)).where(
        one_of(HealthMonth.community_id, list(recent)), HealthMonth.month.in_(dates)))
    for community_id, computed_at, month, *values in rows:
        figures = MonthHealth(month, **dict(zip(GLANCED, values)))
        if figures.month in recent[community_id] and clock.aware(computed_at) <= moment:
            found.setdefault(community_id, {})[figures.month] = figures
    return {community_id: kept for community_id, kept in found.items() if len(kept) == LIVE_MONTHS}


def _invitations(community: Community, starts: list[datetime]):
    """(month, invited, answered, invited where attendance was taken, attended) per month with meetings."""
    in_month = _bucket(Meeting.starts_at, starts[1:])
    taken = Meeting.attendance_taken_at.is_not(None)
    return db.session.execute(
        select(in_month, func.count(), func.count(Invitation.answer), func.count(case((taken, 1))),
               func.count(case((and_(taken, Invitation.attended.is_(True)), 1))))
        .join(Meeting, Invitation.meeting_id == Meeting.id)
        .where(Meeting.community_id == community.id, Meeting.status != "cancelled",
               Meeting.starts_at >= starts[0], Meeting.starts_at < starts[-1])
        .group_by(in_month)).all()


def _feedback(community: Community, starts: list[datetime]):
    """(month, submitted feedback responses, mean usefulness, mean recommend) by the month of the meeting."""
    in_month = _bucket(Meeting.starts_at, starts[1:])
    return db.session.execute(
        select(in_month, func.count(func.distinct(FormResponse.id)),
               func.avg(case((FormAnswer.question == "usefulness", FormAnswer.value_int))),
               func.avg(case((FormAnswer.question == "recommend", FormAnswer.value_int))))
        .select_from(FormRequest)
        .join(Meeting, FormRequest.meeting_id == Meeting.id)
        .join(FormResponse, and_(FormResponse.request_id == FormRequest.id, FormResponse.status == "submitted"))
        .join(FormAnswer, and_(FormAnswer.response_id == FormResponse.id,
                               FormAnswer.question.in_(("usefulness", "recommend"))))
        .where(FormRequest.community_id == community.id, FormRequest.kind == "feedback",
               Meeting.starts_at >= starts[0], Meeting.starts_at < starts[-1])
        .group_by(in_month)).all()


def _replies():
    """SQL condition: received mail a person sent (not automatic mail, not a delivery report)."""
    return and_(InboundMessage.status != "ignored", InboundMessage.purpose != "bounce")


def _suppressions(community: Community, starts: list[datetime]):
    """(month, audit action, members) for the community's members who bounced or unsubscribed in each month."""
    in_month = _bucket(AuditEvent.created_at, starts[1:])
    members_here = select(Membership.member_id).where(Membership.community_id == community.id)
    return db.session.execute(
        select(in_month, AuditEvent.action, func.count(func.distinct(AuditEvent.object_id)))
        .where(AuditEvent.action.in_(tuple(SUPPRESSIONS)), AuditEvent.object_type == "member",
               AuditEvent.object_id.in_(members_here),
               AuditEvent.created_at >= starts[0], AuditEvent.created_at < starts[-1])
        .group_by(in_month, AuditEvent.action)).all()


def _activity(community: Community, since: datetime, until: datetime):
    """A subquery of (member_id, at): every time a member of the community took part, in [since, until).

    An RSVP can only be given or changed before its meeting starts, so an
    answer given since `since` is to a meeting starting since then: that
    bound lets the meeting's index find the few meetings to look at.
    """
    def within(column):
        return and_(column >= since, column < until)
    return union_all(
        select(Invitation.member_id, Invitation.answered_at.label("at"))
        .join(Meeting, Invitation.meeting_id == Meeting.id)
        .where(Meeting.community_id == community.id, Meeting.starts_at >= since, within(Invitation.answered_at)),
        select(Invitation.member_id, Meeting.starts_at)
        .join(Meeting, Invitation.meeting_id == Meeting.id)
        .where(Meeting.community_id == community.id, Invitation.attended.is_(True), within(Meeting.starts_at)),
        select(FormResponse.member_id, FormResponse.submitted_at)
        .where(_of_requests_here(community), FormResponse.status == "submitted", within(FormResponse.submitted_at)),
        select(InboundMessage.member_id, InboundMessage.received_at)
        .where(InboundMessage.community_id == community.id, InboundMessage.member_id.is_not(None), _replies(),
               within(InboundMessage.received_at)),
        select(Practice.member_id, Practice.created_at)
        .where(Practice.community_id == community.id, Practice.member_id.is_not(None), within(Practice.created_at)),
    ).subquery()


def _of_requests_here(community: Community):
    """SQL condition: a form response to one of the community's requests. On PostgreSQL the requests' ids become
    an array first, so the responses are found by request_id's index (joined, the planner read every community's
    responses in the window: the active-members statement took 43 ms on the bench's data, 28 with the array)."""
    requests_here = select(FormRequest.id).where(FormRequest.community_id == community.id)
    if on_postgresql():
        return FormResponse.request_id == any_(func.array(requests_here.scalar_subquery()))
    return FormResponse.request_id.in_(requests_here)


def _active(community: Community, ends: list[datetime]):
    """(month, members active in the ACTIVE_DAYS before the month's end) for each month.

    A moment of activity counts for every month whose window [end - 60 days,
    end) holds it: from the first month ending after it to the last one whose
    window opens at or before it. A month is at least 28 days, so that is at
    most three months, added by joining the offsets 0, 1 and 2.
    """
    window = timedelta(days=ACTIVE_DAYS)
    events = _activity(community, ends[0] - window, ends[-1])
    opens = [end - window for end in ends]
    spans = (select(events.c.member_id, _bucket(events.c.at, ends).label("first"),
                    (_bucket(events.c.at, opens) - 1).label("last"))
             .distinct().subquery())
    offsets = union_all(*(select(literal(number).label("k")) for number in range(3))).subquery()
    month = (spans.c.first + offsets.c.k).label("month")
    return db.session.execute(
        select(month, func.count(func.distinct(spans.c.member_id)))
        .select_from(spans).join(offsets, spans.c.first + offsets.c.k <= spans.c.last)
        .group_by(month)).all()
