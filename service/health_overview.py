"""The dashboard's overview: each community's line (its size, its recent health, what needs a person) for many
communities at once, from the kept recent months where they hold (service/community_health.py) and the "needs
you" counts."""
from dataclasses import dataclass
from datetime import datetime

from service import clock, community_health, needs_you
from service.community_health import LIVE_MONTHS
from service.figures_stamp import Stamps
from service.models import Community


@dataclass
class Glance:
    """One community's line on the dashboard: its size, a few health figures and what needs a person."""
    community: Community
    members: int = 0                  # active members now
    active: int = 0                   # members active in the last 60 days
    rsvp_rate: float | None = None    # of last month's meetings
    failed_emails: int = 0
    replies_waiting: int = 0
    bouncing: int = 0                 # active members whose address bounces

    @property
    def needs_attention(self) -> bool:
        return bool(self.failed_emails or self.replies_waiting or self.bouncing)


ATTENTION = ("failed_emails", "replies_waiting", "bouncing")  # what the overview says needs a person


def overview(communities: list[Community], moment: datetime | None = None,
             waiting: dict[int, dict[str, int]] | None = None, stamps: Stamps | None = None) -> list[Glance]:
    """Each community's glance, in the order given: one grouped query per figure, whatever their number.

    Members, active members and the RSVP rate are the kept recent months
    where they hold (service/figures_stamp.py); a community whose rows
    changed since is counted now, and so is what needs a person; `waiting`
    is needs_you.waiting's counts for these communities when the
    caller has them already (the dashboard counts once for the overview and
    its list), and `stamps` these communities' stamps.
    """
    moment = moment or clock.now()
    ids = [community.id for community in communities]
    glances = {community.id: Glance(community) for community in communities}
    if not ids:
        return []
    stamp = stamps or Stamps(ids, moment)
    fresh = community_health.kept_recent(communities, stamp)
    for community in communities:
        recent = fresh.get(community.id)
        if recent:
            previous, current = sorted(recent.values(), key=lambda row: row.month)
        else:
            previous, current = found = community_health.counted(community, LIVE_MONTHS, moment)
            community_health.keep(community, found, moment, stamp)
        glance = glances[community.id]
        glance.members, glance.active = current.members, current.active
        glance.rsvp_rate = previous.answered / previous.invited if previous.invited else None

    if waiting is None:  # what needs a person, counted as the "needs you" list counts it
        waiting = needs_you.waiting(ids, ATTENTION, stamp)
    for community_id, counts in waiting.items():
        if community_id in glances:
            for name in ATTENTION:
                setattr(glances[community_id], name, counts.get(name, 0))
    return [glances[community_id] for community_id in ids]
