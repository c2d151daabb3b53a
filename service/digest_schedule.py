"""When a community's digest issues fall due: its slots are its local weekday and hour, every week, every
second week or on the first such weekday of each month, computed day by day in its time zone so daylight-saving
changes move nothing."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from service.clock import aware, now
from service.extensions import db
from service.models import Community, DigestIssue

EPOCH_MONDAY = date(2024, 1, 1)  # fixes which weeks are "every second week"
SEARCH_DAYS = 70


def is_slot_day(community: Community, day: date) -> bool:
    if day.weekday() != community.digest_weekday:
        return False
    if community.digest_cadence == "biweekly":
        return ((day - EPOCH_MONDAY).days // 7) % 2 == 0
    if community.digest_cadence == "monthly":
        return day.day <= 7
    return True


def slot_at(community: Community, day: date) -> datetime:
    """The slot of that local day in UTC. A local hour that a clock change skips lands an hour later."""
    local = datetime.combine(day, time(community.digest_hour)).replace(tzinfo=ZoneInfo(community.time_zone))
    return local.astimezone(timezone.utc)


def latest_slot(community: Community, moment: datetime) -> datetime | None:
    """The most recent slot at or before `moment`."""
    today = moment.astimezone(ZoneInfo(community.time_zone)).date()
    for back in range(SEARCH_DAYS):
        day = today - timedelta(days=back)
        if is_slot_day(community, day) and slot_at(community, day) <= moment:
            return slot_at(community, day)
    return None


def next_slot(community: Community, moment: datetime) -> datetime | None:
    """The first slot after `moment`."""
    today = moment.astimezone(ZoneInfo(community.time_zone)).date()
    for ahead in range(SEARCH_DAYS):
        day = today + timedelta(days=ahead)
        if is_slot_day(community, day) and slot_at(community, day) > moment:
            return slot_at(community, day)
    return None


def due_issue_slot(community: Community, moment: datetime) -> datetime | None:
    """The slot an issue is due for now, or None (digests off, nothing due, or already issued)."""
    if not community.digest_enabled or community.digest_enabled_at is None:
        return None
    slot = latest_slot(community, moment)
    if slot is None or slot < aware(community.digest_enabled_at):
        return None
    last = db.session.scalar(select(func.max(DigestIssue.slot_at)).where(DigestIssue.community_id == community.id))
    if last is not None and aware(last) >= slot:
        return None
    return slot


def next_issue_local(community: Community) -> datetime | None:
    """When the next issue goes out, in the community's local time (None while digests are off)."""
    if not community.digest_enabled:
        return None
    upcoming = next_slot(community, now())
    return upcoming and upcoming.astimezone(ZoneInfo(community.time_zone))
