"""Month-by-month figures of one community for the export's printable report, counted from its own rows.

Months are the community's local calendar months, from its first month to
the current one. Each figure is one query over its source table, bucketed
here.
"""
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from service.clock import aware, now
from service.extensions import db
from service.models import Community, InboundMessage, Invitation, Meeting, Membership, Practice

FIGURES = {
    "members": _l("Members who had joined by the month's end"),
    "joined": _l("Members who joined"),
    "rsvps": _l("Invitations answered"),
    "attended": _l("Attendances"),
    "practices": _l("Practices shared"),
    "replies": _l("Replies received"),
}


@dataclass
class MonthlyFigures:
    months: list[str]                 # "2026-01", oldest first
    series: dict[str, list[int]]      # figure -> one count per month


def _month(moment: datetime, zone: ZoneInfo) -> str:
    return aware(moment).astimezone(zone).strftime("%Y-%m")


def _months(first: str, last: str) -> list[str]:
    year, month = map(int, first.split("-"))
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def monthly_figures(community: Community) -> MonthlyFigures:
    zone = ZoneInfo(community.time_zone)
    sources = {
        "joined": select(Membership.created_at).where(Membership.community_id == community.id),
        "rsvps": select(Invitation.answered_at).join(Meeting, Invitation.meeting_id == Meeting.id)
        .where(Meeting.community_id == community.id, Invitation.answered_at.is_not(None)),
        "attended": select(Meeting.starts_at).join(Invitation, Invitation.meeting_id == Meeting.id)
        .where(Meeting.community_id == community.id, Invitation.attended.is_(True)),
        "practices": select(Practice.created_at).where(Practice.community_id == community.id),
        "replies": select(InboundMessage.received_at).where(InboundMessage.community_id == community.id),
    }
    counts = {name: Counter(_month(moment, zone) for moment in db.session.scalars(query))
              for name, query in sources.items()}
    first = min([_month(community.created_at, zone)] + [month for c in counts.values() for month in c])
    months = _months(first, _month(now(), zone))
    series = {name: [counts[name].get(month, 0) for month in months] for name in sources}
    total, series["members"] = 0, []
    for joined in series["joined"]:
        total += joined
        series["members"].append(total)
    return MonthlyFigures(months, {name: series[name] for name in FIGURES})
