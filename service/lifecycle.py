"""A community's lifecycle: the checklist its data answers, and the stage that follows from it.

Nothing here is ticked by hand. Each checklist item is a question the
database answers (are there members from enough organizations, was a charter
questionnaire sent, was a meeting held...), and each open one names the page
where its next action is done. The stage moves forward one step at a time,
and only when a coordinator confirms it: the data suggests the next stage
(a charter questionnaire sent: defining; a ratified charter: managing; a
member leader with the TTA coordinator stepped back: sustaining), the
coordinator confirms on the community page, and the change is audited. The
edit form follows the same rule: it may move back, or one stage forward, but
never skips one.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from sqlalchemy import exists, func, select

from service import audit
from service.clock import aware, now
from service.errors import DomainError
from service.extensions import db
from service.labels import STAGES as STAGE_LABELS
from service.models import (Charter, Community, CommunityCoordinator, Coordinator, DigestIssue, FormRequest,
                            FormResponse, IntakeEntry, Meeting, Membership)
from service.models.communities import STAGES

# Past meetings looked at for rotating facilitation: two different facilitators among these.
ROTATION_MEETINGS = 4
# Volunteers that make a rotation: at least this many active members willing to facilitate.
ROTATION_VOLUNTEERS = 2
# Days after which the latest digest issue no longer counts as "going out", per cadence: two intervals.
DIGEST_RECENT_DAYS = {"weekly": 14, "biweekly": 28, "monthly": 62}
# Where the open items whose page lives on the community page itself point (its sections' anchors).
ROLES_ANCHOR, ROTATION_ANCHOR, STEP_BACK_ANCHOR = "roles", "rotation", "step-back"


@dataclass
class Action:
    """The next step for an open item: a dashboard page (endpoint and its arguments) and what to do there."""
    label: str
    endpoint: str
    args: dict = field(default_factory=dict)
    anchor: str = ""


@dataclass
class Item:
    key: str
    stage: str      # the stage it belongs to, for grouping on the page
    title: str
    done: bool
    detail: str
    action: Action | None = None  # only for an open item


@dataclass
class Suggestion:
    """The stage the data says the community has reached next, why, and the ones after it the data also allows."""
    stage: str
    reason: str
    then: list[str]


@dataclass
class Lifecycle:
    items: list[Item]
    suggestion: Suggestion | None

    def by_stage(self) -> list[tuple[str, list[Item]]]:
        return [(stage, [item for item in self.items if item.stage == stage]) for stage in STAGES]

    @property
    def done_count(self) -> int:
        return sum(1 for item in self.items if item.done)


# --- the checklist --------------------------------------------------------------------------------

def _scalar(query) -> int:
    return db.session.scalar(query) or 0


def _organizations(community: Community) -> Item:
    needed = current_app.config["CHECKLIST_MIN_ORGANIZATIONS"]
    # Counted up to the number needed: reading every member of a large community to count past it told nothing.
    have = _scalar(select(func.count()).select_from(select(Membership.organization_id).where(
        Membership.community_id == community.id, Membership.status == "active",
        Membership.organization_id.is_not(None)).distinct().limit(needed).subquery()))
    title = _("Members from at least %(num)d organizations", num=needed)
    detail = ngettext("%(num)d of %(needed)d organizations has active members.",
                      "%(num)d of %(needed)d organizations have active members.", have, needed=needed)
    return Item("organizations", "forming", title, have >= needed, detail,
                Action(_("Add members"), "members.add"))


def _intake(community: Community) -> Item:
    counts = dict(db.session.execute(select(IntakeEntry.status, func.count()).where(
        IntakeEntry.community_id == community.id).group_by(IntakeEntry.status)).all())
    pending, total = counts.get("pending", 0), sum(counts.values())
    if total == 0:
        detail = _("Nobody has answered the interest form yet: share its link.")
    elif pending:
        detail = ngettext("%(num)d interest form answer waits for your review.",
                          "%(num)d interest form answers wait for your review.", pending)
    else:
        detail = ngettext("%(num)d interest form answer reviewed.", "%(num)d interest form answers reviewed.", total)
    return Item("intake", "forming", _("Interest form answered and reviewed"), total > 0 and not pending, detail,
                Action(_("Open the interest form"), "intake.index"))


def _charter_sent(community: Community) -> Item:
    """Done once members were asked the charter questions, or a charter version was put to their vote."""
    asked = db.session.scalar(select(exists().where(FormRequest.community_id == community.id,
                                                    FormRequest.kind == "charter")))
    proposed = db.session.scalar(select(exists().where(Charter.community_id == community.id,
                                                       Charter.proposed_at.is_not(None))))
    done = bool(asked or proposed)
    detail = (_("Members were asked the charter questions.") if asked else
              _("A charter was proposed to members.") if done else
              _("Ask members the charter questions: their answers become the draft."))
    return Item("charter_sent", "defining", _("Charter questions sent"), done, detail,
                Action(_("Send the charter questions"), "form_requests.new"))


def _charter_ratified(community: Community) -> Item:
    version = db.session.scalar(select(func.max(Charter.version)).where(
        Charter.community_id == community.id, Charter.status == "ratified"))
    detail = (_("Version %(version)d is in force.", version=version) if version is not None else
              _("Draft the charter from members' answers, propose it, then ratify it."))
    return Item("charter_ratified", "defining", _("Charter ratified"), version is not None, detail,
                Action(_("Open the charter"), "charters.index"))


def _held(community: Community):
    """Meetings held: not cancelled, and started (or with attendance taken)."""
    return select(Meeting).where(Meeting.community_id == community.id, Meeting.status == "scheduled",
                                 (Meeting.starts_at <= now()) | Meeting.attendance_taken_at.is_not(None))


def _first_meeting(community: Community) -> Item:
    held = _scalar(select(func.count()).select_from(_held(community).subquery()))
    detail = (ngettext("%(num)d meeting held.", "%(num)d meetings held.", held) if held else
              _("No meeting has taken place yet."))
    return Item("first_meeting", "managing", _("First meeting held"), held > 0, detail,
                Action(_("Schedule a meeting"), "meetings.new"))


def _feedback(community: Community) -> Item:
    answers = _scalar(select(func.count()).select_from(FormResponse).join(FormRequest).where(
        FormRequest.community_id == community.id, FormRequest.kind == "feedback",
        FormResponse.status == "submitted"))
    title = _("Feedback collected after meetings")
    if answers:
        return Item("feedback", "managing", title, True,
                    ngettext("%(num)d feedback answer.", "%(num)d feedback answers.", answers))
    latest = db.session.scalar(_held(community).order_by(Meeting.starts_at.desc(), Meeting.id.desc()).limit(1))
    if latest is None:
        return Item("feedback", "managing", title, False, _("Attendees are asked after each meeting."),
                    Action(_("See the meetings"), "meetings.index"))
    if latest.attendance_taken_at is None:
        return Item("feedback", "managing", title, False,
                    _("Take attendance: those who came are asked for feedback."),
                    Action(_("Take attendance at %(title)s", title=latest.title), "meetings.attendance",
                           {"meeting_id": latest.id}))
    return Item("feedback", "managing", title, False, _("Nobody has answered a feedback form yet."),
                Action(_("See the forms"), "form_requests.index"))


def _digests(community: Community) -> Item:
    days = DIGEST_RECENT_DAYS.get(community.digest_cadence, 62)
    recent = community.digest_enabled and db.session.scalar(select(exists().where(
        DigestIssue.community_id == community.id, DigestIssue.slot_at >= now() - timedelta(days=days))))
    detail = (_("An issue went out in the last %(num)d days.", num=days) if recent else
              _("No issue in the last %(num)d days.", num=days) if community.digest_enabled else
              _("Lesson digests are off."))
    return Item("digests", "managing", _("Lesson digests going out"), bool(recent), detail,
                Action(_("Digest settings"), "digests.settings"))


def _leader(community: Community) -> Item:
    accounts = _scalar(select(func.count()).select_from(CommunityCoordinator).where(
        CommunityCoordinator.community_id == community.id, CommunityCoordinator.role == "leader"))
    members = _scalar(select(func.count()).select_from(Membership).where(
        Membership.community_id == community.id, Membership.status == "active", Membership.role == "leader"))
    done = bool(accounts or members)
    detail = (ngettext("%(num)d leader.", "%(num)d leaders.", accounts + members) if done else
              _("A member who will run the community once the TTA program steps back."))
    return Item("leader", "sustaining", _("A member leader named"), done, detail,
                Action(_("Name a leader"), "communities.show", anchor=ROLES_ANCHOR))


def _rotation(community: Community) -> Item:
    recent = db.session.scalars(_held(community).with_only_columns(Meeting.facilitator_id)
                                .order_by(Meeting.starts_at.desc()).limit(ROTATION_MEETINGS)).all()
    facilitators = len({member_id for member_id in recent if member_id is not None})
    willing = _scalar(select(func.count()).select_from(Membership).where(
        Membership.community_id == community.id, Membership.status == "active",
        Membership.willing_to_facilitate.is_(True)))
    done = facilitators >= 2 or willing >= ROTATION_VOLUNTEERS
    detail = _("Different facilitators in the last %(meetings)d meetings: %(facilitators)d. "
               "Members willing to facilitate: %(willing)d.",
               facilitators=facilitators, meetings=ROTATION_MEETINGS, willing=willing)
    return Item("rotation", "sustaining", _("Facilitation rotating"), done, detail,
                Action(_("Set up the rotation"), "communities.show", anchor=ROTATION_ANCHOR))


def _stepped_back(community: Community) -> Item:
    done = community.stepped_back_at is not None
    detail = (_("The TTA coordinator handed the community to its leaders.") if done else
              _("Once a leader runs the community, hand it over."))
    return Item("stepped_back", "sustaining", _("TTA coordinator stepped back"), done, detail,
                Action(_("Step back"), "communities.show", anchor=STEP_BACK_ANCHOR))


CHECKS = (_organizations, _intake, _charter_sent, _charter_ratified, _first_meeting, _feedback, _digests,
          _leader, _rotation, _stepped_back)
# What the data must show for the community to reach each stage after forming: these items done.
EVIDENCE = {"defining": ("charter_sent",), "managing": ("charter_ratified",),
            "sustaining": ("leader", "stepped_back")}
REASONS = {"defining": _l("The charter went out to members: its questions, or a version to approve."),
           "managing": _l("Members ratified the charter."),
           "sustaining": _l("A member leader runs the community and the TTA coordinator stepped back.")}


def checklist(community: Community) -> Lifecycle:
    """Every item answered from the community's data, and the stage change it suggests, if any."""
    items = [check(community) for check in CHECKS]
    return Lifecycle(items, _suggest(community.stage, {item.key for item in items if item.done}))


def next_change(community: Community, moment: datetime) -> datetime | None:
    """When time alone next moves the checklist or the upcoming meetings (a meeting starts and counts as held;
    the latest digest issue stops counting as recent); None when nothing would."""
    starts = db.session.scalar(select(func.min(Meeting.starts_at)).where(
        Meeting.community_id == community.id, Meeting.status == "scheduled", Meeting.starts_at > moment))
    latest = db.session.scalar(select(func.max(DigestIssue.slot_at)).where(DigestIssue.community_id == community.id))
    ends = (aware(latest) + timedelta(days=DIGEST_RECENT_DAYS.get(community.digest_cadence, 62), microseconds=1)
            if latest is not None else None)
    moments = [aware(starts) if starts is not None else None, ends if ends is not None and ends > moment else None]
    return min((m for m in moments if m is not None), default=None)


def _suggest(stage: str, done: set[str]) -> Suggestion | None:
    """The next stage when its evidence is there, with the stages after it the data also supports."""
    reached = []
    for later in STAGES[STAGES.index(stage) + 1:]:
        if not set(EVIDENCE[later]) <= done:
            break
        reached.append(later)
    if not reached:
        return None
    return Suggestion(reached[0], str(REASONS[reached[0]]), reached[1:])


# --- changing the stage ---------------------------------------------------------------------------

def check_step(current: str, target: str) -> None:
    """Refuse a move forward by more than one stage, naming the one to go through first."""
    if target in STAGES and current in STAGES and STAGES.index(target) > STAGES.index(current) + 1:
        step = STAGES[STAGES.index(current) + 1]
        raise DomainError(_("A community moves on one stage at a time: from %(current)s, move to %(next)s "
                            "first, then to %(target)s.", current=STAGE_LABELS[current], next=STAGE_LABELS[step],
                            target=STAGE_LABELS[target]), "stage")


def confirm_stage(actor: Coordinator, community: Community, target: str) -> None:
    """The coordinator confirms the suggested next stage; the caller commits.

    The community row is locked first, so a second click (or a second
    coordinator) finds the stage already moved and is told so.
    """
    db.session.refresh(community, with_for_update=True)
    if target == community.stage:
        raise DomainError(_("The community is already at this stage."))
    if target not in STAGES:
        raise DomainError(_("Unknown stage."), "stage")
    check_step(community.stage, target)
    suggestion = checklist(community).suggestion
    if suggestion is None or suggestion.stage != target:
        raise DomainError(_("The community's data does not show it has reached %(stage)s: the checklist says "
                            "what is still open.", stage=STAGE_LABELS[target]))
    previous, community.stage = community.stage, target
    audit.record(actor, "community.stage", "community", community.id, community.id,
                 changes={"stage": [previous, target]}, evidence=list(EVIDENCE[target]))
