"""Charter voting rules: how many must answer, how many must approve, the voting deadline and its reminder.

Each community sets a quorum (the share of its active members who must answer
a proposed charter; by default half) and an approval threshold (the share of
those answering who must approve; by default two thirds). Shares are kept in
hundredths of a percent, so two thirds is 66.67 %; a count meets a rule when
its share, rounded to hundredths of a percent as the page shows it, reaches
the rule: 2 of 3 is 66.67 % and meets two thirds, 15 of 30 meets half.
Ratifying below the rules needs the coordinator's reason (service/charters.ratify).

The reminder goes once, REMINDER_BEFORE the deadline (halfway from proposal to
deadline when the deadline is closer), to the active members who have not
answered by then. The sweeper (service/scheduled_work.sweep_all, every minute
from the cron process) sends the reminders that are due: a conditional update claims
each charter's reminder, so two sweeps never both send it, and each member's
email has its own idempotency key in the outbox.
"""
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import and_, func, select, update

from service import audit, mailer, moments, normalize
from service.clock import aware, now
from service.errors import DomainError
from service.extensions import db
from service.models import Charter, CharterVote, Community, Coordinator, Member, Membership

REMINDER_BEFORE = timedelta(hours=48)
DEFAULT_DEADLINE_DAYS = 14
WHOLE = 10_000  # 100 % in hundredths of a percent


# --- the arithmetic -------------------------------------------------------------------------------

def needed(out_of: int, rule: int) -> int:
    """The fewest of `out_of` whose share, rounded to hundredths of a percent, reaches `rule` (in hundredths).

    share rounded half up >= rule  <=>  count / out_of >= (rule - 1/2) / WHOLE, in integers below.
    """
    if out_of <= 0:
        return 0
    return max(1, -(-(2 * rule - 1) * out_of // (2 * WHOLE)))


def as_percent(rule: int) -> str:
    """66.67, 50: a rule as the page shows it (no trailing zeros)."""
    text = f"{Decimal(rule) / 100:.2f}"
    return text.rstrip("0").rstrip(".")


def parse_percent(value, field: str) -> int:
    """A percentage between 1 and 100 with at most two decimals, in hundredths; DomainError for `field`."""
    try:
        number = Decimal(str(value).strip().rstrip("%").strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise DomainError(_("Enter a percentage between 1 and 100, such as 50 or 66.67."), field) from None
    if not number.is_finite() or not Decimal(1) <= number <= Decimal(100):
        raise DomainError(_("Enter a percentage between 1 and 100, such as 50 or 66.67."), field)
    if number != number.quantize(Decimal("0.01")):
        raise DomainError(_("Use at most two decimals, such as 66.67."), field)
    return int(number * 100)


@dataclass
class Tally:
    """A proposed charter's answers held against its community's rules."""
    active: int
    answered: int
    approved: int
    quorum: int    # the rules, in hundredths of a percent
    approval: int

    @property
    def answers_needed(self) -> int:
        return needed(self.active, self.quorum)

    @property
    def approvals_needed(self) -> int:
        return needed(self.answered, self.approval)

    @property
    def quorum_met(self) -> bool:
        return self.active > 0 and self.answered >= self.answers_needed

    @property
    def approval_met(self) -> bool:
        return self.answered > 0 and self.approved >= self.approvals_needed

    @property
    def met(self) -> bool:
        return self.quorum_met and self.approval_met

    def shortfalls(self) -> list[str]:
        """What falls short, with the figures, in the reader's language."""
        found = []
        if not self.quorum_met:
            found.append(_("%(answered)d of %(active)d active members answered; %(needed)d needed.",
                           answered=self.answered, active=self.active, needed=self.answers_needed))
        if self.answered and not self.approval_met:
            found.append(_("%(approved)d of %(answered)d answering members approved; %(needed)d needed.",
                           approved=self.approved, answered=self.answered, needed=self.approvals_needed))
        return found


def tally(charter: Charter) -> Tally:
    """Counts the active members and their answers: a vote by link and a vote by email reply are the same row."""
    community = db.session.get(Community, charter.community_id)
    active = and_(Membership.community_id == charter.community_id, Membership.status == "active")
    counted = db.session.execute(
        select(func.count(), func.count().filter(CharterVote.decision == "approve"))
        .select_from(CharterVote).join(Membership, and_(Membership.member_id == CharterVote.member_id, active))
        .where(CharterVote.charter_id == charter.id)).one()
    members = db.session.scalar(select(func.count()).select_from(Membership).where(active)) or 0
    return Tally(active=members, answered=counted[0], approved=counted[1], quorum=community.charter_quorum,
                 approval=community.charter_approval)


# --- the rules ------------------------------------------------------------------------------------

def set_rules(actor: Coordinator | None, community: Community, quorum, approval) -> bool:
    """Change the community's rules (percentages as typed); True if they changed. Audited."""
    new_quorum, new_approval = parse_percent(quorum, "quorum"), parse_percent(approval, "approval")
    old = (community.charter_quorum, community.charter_approval)
    if old == (new_quorum, new_approval):
        return False
    community.charter_quorum, community.charter_approval = new_quorum, new_approval
    audit.record(actor, "charter.rules", "community", community.id, community.id,
                 quorum={"old": as_percent(old[0]), "new": as_percent(new_quorum)},
                 approval={"old": as_percent(old[1]), "new": as_percent(new_approval)})
    return True


# --- the deadline ---------------------------------------------------------------------------------

def deadline_from_date(community: Community, day) -> datetime:
    """The end of `day` (23:59) in the community's time zone, as an aware UTC moment; the day must be after today."""
    zone = ZoneInfo(community.time_zone)
    if day is None:
        raise DomainError(_("Choose the day voting closes."), "deadline")
    if day <= now().astimezone(zone).date():
        raise DomainError(_("Voting must close on a later day than today."), "deadline")
    normalize.within_reach(datetime.combine(day, time(0), tzinfo=timezone.utc), "deadline")  # 9999-12-31 too
    return datetime.combine(day, time(23, 59), tzinfo=zone).astimezone(timezone.utc)


def default_deadline_day(community: Community):
    return (now().astimezone(ZoneInfo(community.time_zone)) + timedelta(days=DEFAULT_DEADLINE_DAYS)).date()


def change_deadline(actor: Coordinator | None, charter: Charter, day) -> None:
    """Move a proposal's deadline to the end of `day` (reopening answers if it had passed). Audited.

    The reminder stays once per proposal: if it went already, a later deadline earns no second one.
    """
    if charter.status != "proposed":
        raise DomainError(_("Only a proposed charter has a voting deadline."))
    community = db.session.get(Community, charter.community_id)
    moment = deadline_from_date(community, day)
    old = aware(charter.deadline_at)
    if old == moment:
        return
    charter.deadline_at = moment
    audit.record(actor, "charter.deadline", "charter", charter.id, community.id, version=charter.version,
                 old=old.isoformat() if old else None, new=moment.isoformat())


def deadline_text(charter: Charter, community: Community, language: str) -> str:
    """"Monday, December 14, 2026 11:59 PM, Central Time (Chicago)" in the reader's language, or ""."""
    if charter.deadline_at is None:
        return ""
    return moments.text(charter.deadline_at, community.time_zone, language, "moment")


def is_closed(charter: Charter) -> bool:
    """Whether the voting deadline has passed."""
    return charter.deadline_at is not None and aware(charter.deadline_at) <= now()


def reminder_due(charter: Charter) -> datetime | None:
    """REMINDER_BEFORE the deadline, or halfway from the proposal to the deadline when that is later."""
    if charter.deadline_at is None or charter.proposed_at is None:
        return None
    deadline, proposed = aware(charter.deadline_at), aware(charter.proposed_at)
    return max(deadline - REMINDER_BEFORE, proposed + (deadline - proposed) / 2).replace(microsecond=0)


def not_answered(charter: Charter) -> list[Member]:
    """The active members of the charter's community without an answer to it."""
    answered = select(CharterVote.member_id).where(CharterVote.charter_id == charter.id)
    return list(db.session.scalars(select(Member).join(Membership).where(
        Membership.community_id == charter.community_id, Membership.status == "active",
        Member.id.not_in(answered)).order_by(Member.id)))


def send_reminder(charter_id: int) -> int:
    """Claim the charter's one reminder and queue it to those who have not answered; emails queued (0 if
    another sweep claimed it, or voting is over)."""
    moment = now()
    claimed = db.session.execute(
        update(Charter).where(Charter.id == charter_id, Charter.status == "proposed",
                              Charter.reminder_sent_at.is_(None), Charter.deadline_at > moment)
        .values(reminder_sent_at=moment).execution_options(synchronize_session=False)).rowcount
    if not claimed:
        return 0
    charter = db.session.get(Charter, charter_id)
    db.session.refresh(charter)
    community = db.session.get(Community, charter.community_id)
    waiting = not_answered(charter)
    queued = mailer.queue_bulk("charter_reminder", waiting, key_for=lambda m: f"charter-reminder:{charter.id}:{m.id}",
                               context_for=lambda m: {"charter_id": charter.id}, community=community)
    audit.record(None, "charter.reminder", "charter", charter.id, community.id, version=charter.version,
                 recipients=len(waiting))
    return queued


def sweep() -> dict:
    """Send the charter reminders that are due (what the sweeper does every minute)."""
    moment, sent = now(), 0
    for charter in db.session.scalars(select(Charter).where(
            Charter.status == "proposed", Charter.reminder_sent_at.is_(None), Charter.deadline_at > moment)).all():
        if reminder_due(charter) <= moment and send_reminder(charter.id):
            sent += 1
        db.session.commit()
    return {"charter_reminders_sent": sent}
