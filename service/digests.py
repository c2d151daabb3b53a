"""Lesson digests: a community's digest settings, its issues, and what each member's copy contains.

When issues fall due is service/digest_schedule.py. A periodic tick creates the
latest due issue (unique per slot, so a second or late tick adds nothing, and
after an outage only the current issue goes out, not a backlog) and queues one
email per member whose own frequency makes them due. Each copy carries the
member's next lesson module, so the drip advances per member.
"""
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from service import bilingual, charters, digest_schedule, mailer, practices
from service.clock import aware, now
from service.conversations import digest as conversation_digest
from service.extensions import db
from service.lessons import module_parts
from service.meeting_emails import rsvp_links, when_text
from service.models import (Community, DigestIssue, FormRequest, FormResponse, Invitation, Lesson, LessonModule,
                            Meeting, Member, Membership, OutboundEmail, Organization, Practice)

MEMBER_INTERVAL_DAYS = {"weekly": 7, "biweekly": 14, "monthly": 28}
SLACK = timedelta(hours=36)      # a weekly reader is due even if last week's issue went out late
SEND_NOW_WINDOW = timedelta(minutes=2)  # a second "send now" this soon after an issue is a double click


# --- settings -------------------------------------------------------------------------------------

SETTING_FIELDS = ("digest_enabled", "lesson_id", "digest_cadence", "digest_weekday", "digest_hour")


def update_settings(actor, community: Community, *, enabled: bool, lesson_id: int | None, cadence: str,
                    weekday: int, hour: int) -> None:
    """Change when and what a community's digest sends, auditing what changed; the caller commits."""
    from flask_babel import gettext as _
    from service import audit
    from service.errors import DomainError
    from service.models.communities import CADENCES
    if cadence not in CADENCES:
        raise DomainError(_("Unknown digest cadence."), "digest_cadence")
    if not 0 <= weekday <= 6:
        raise DomainError(_("Choose a day of the week."), "digest_weekday")
    if not 0 <= hour <= 23:
        raise DomainError(_("Choose an hour from 0 to 23."), "digest_hour")
    if lesson_id is not None and db.session.get(Lesson, lesson_id) is None:
        raise DomainError(_("Choose a lesson from the list."), "lesson_id")
    before = {key: getattr(community, key) for key in SETTING_FIELDS}
    enable(community, enabled)
    community.lesson_id, community.digest_cadence = lesson_id, cadence
    community.digest_weekday, community.digest_hour = weekday, hour
    changes = {key: [before[key], getattr(community, key)] for key in SETTING_FIELDS
               if before[key] != getattr(community, key)}
    if changes:
        audit.record(actor, "digest.settings", "community", community.id, community.id, changes=changes)


def enable(community: Community, enabled: bool, moment: datetime | None = None) -> None:
    """Turn digests on from now (no issue for slots before this moment) or off."""
    if enabled and not community.digest_enabled:
        community.digest_enabled_at = moment or now()
    community.digest_enabled = enabled


# --- issuing --------------------------------------------------------------------------------------

def tick(moment: datetime | None = None) -> dict[int, int]:
    """Create and fan out every due issue; {community id: emails queued}. Safe to run twice or late."""
    moment = moment or now()
    queued = {}
    for community in db.session.scalars(select(Community).where(Community.digest_enabled)).all():
        slot = digest_schedule.due_issue_slot(community, moment)
        if slot is None:
            continue
        issue = _create_issue(community, slot)
        if issue is None:
            continue
        queued[community.id] = fan_out(community, issue)
        db.session.commit()
    return queued


def _next_number(community: Community) -> int:
    return (db.session.scalar(select(func.max(DigestIssue.number)).where(
        DigestIssue.community_id == community.id)) or 0) + 1


def _create_issue(community: Community, slot: datetime) -> DigestIssue | None:
    issue = DigestIssue(community_id=community.id, number=_next_number(community), slot_at=slot)
    try:
        with db.session.begin_nested():
            db.session.add(issue)
    except IntegrityError:  # another tick created it a moment ago
        return None
    return issue


def send_issue_now(actor, community: Community, moment: datetime | None = None) -> tuple[DigestIssue, int]:
    """(issue, emails queued): an issue slotted at `moment` for every active reader not on "never", whatever
    their interval, with organization editions; audited, the caller commits. The schedule goes on (a reader
    is due again after their interval). Refused while digests are off, and within SEND_NOW_WINDOW of the
    latest issue (the community row is locked, so two clicks at once are serialized)."""
    from flask_babel import gettext as _
    from service import audit
    from service.errors import DomainError
    moment = moment or now()
    if not community.digest_enabled:
        raise DomainError(_("Turn digests on and save before sending an issue."))
    db.session.execute(select(Community.id).where(Community.id == community.id).with_for_update())
    last = db.session.scalar(select(func.max(DigestIssue.slot_at)).where(DigestIssue.community_id == community.id))
    if last is not None and moment - aware(last) < SEND_NOW_WINDOW:
        raise DomainError(_("An issue went out less than %(minutes)d minutes ago, so nothing was sent again. "
                            "Wait a moment if you mean to send a new one.",
                            minutes=SEND_NOW_WINDOW.seconds // 60))
    issue = _create_issue(community, moment)
    if issue is None:  # the regular tick issued this very moment
        raise DomainError(_("An issue is going out right now, so nothing was sent again."))
    queued = fan_out(community, issue, explicit=True, organizations_since=last and aware(last))
    audit.record(actor, "digest.send_now", "community", community.id, community.id, issue=issue.number,
                 queued=queued)
    return issue, queued


def _member_due(member: Member, membership: Membership, slot: datetime, explicit: bool = False) -> bool:
    interval = MEMBER_INTERVAL_DAYS.get(member.digest_frequency)
    if interval is None:  # never
        return False
    if explicit or membership.last_digest_at is None:
        return True
    return slot - aware(membership.last_digest_at) >= timedelta(days=interval) - SLACK


def module_choices(community: Community) -> list[tuple[int, str]]:
    """(position, label) for each module of the community's lesson, then 'finished'."""
    from flask_babel import gettext as _
    modules = _modules(community)
    return [(m.position, f"{m.position + 1}. {m.title_en}") for m in modules] + \
        [(len(modules), _("Finished the lesson: practices and meetings only"))]


def set_next_module(actor, membership: Membership, position: int) -> None:
    """Where this member's drip continues (a late joiner can start where the others are)."""
    position = max(0, min(position, len(_modules(membership.community))))
    if membership.next_module != position:
        from service import audit
        audit.record(actor, "member.next_module", "member", membership.member_id, membership.community_id,
                     changes={"next_module": [membership.next_module, position]})
        membership.next_module = position


def _modules(community: Community) -> list[LessonModule]:
    if community.lesson_id is None:
        return []
    return list(db.session.scalars(select(LessonModule).where(LessonModule.lesson_id == community.lesson_id)
                                   .order_by(LessonModule.position)))


def fan_out(community: Community, issue: DigestIssue, explicit: bool = False,
            organizations_since: datetime | None = None) -> int:
    """Queue this issue to every due member (every reader, for an `explicit` issue) and organization contact;
    advance each reader's drip."""
    slot = aware(issue.slot_at)
    rows = db.session.execute(select(Member, Membership).join(Membership).where(
        Membership.community_id == community.id, Membership.status == "active").order_by(Member.id)).all()
    modules = _modules(community)
    suppressed = mailer.suppressed_addresses(member.email for member, _ in rows)
    readers, contexts = [], {}
    for member, membership in rows:
        if not _member_due(member, membership, slot, explicit):
            continue
        since = aware(membership.last_digest_at) if membership.last_digest_at else slot - timedelta(
            days=MEMBER_INTERVAL_DAYS[member.digest_frequency])
        module = modules[membership.next_module] if membership.next_module < len(modules) else None
        delivered = mailer.suppression_reason(member, suppressed, community) is None
        contexts[member.id] = {"issue_id": issue.id, "module_id": module.id if module else None,
                               "since": since.isoformat(),
                               **conversation_digest.carried(membership, since, slot, advance=delivered)}
        readers.append(member)
        if delivered:  # only a delivered copy moves them on
            membership.last_digest_at = slot
            membership.next_module += 1 if module else 0
    queued = mailer.queue_bulk("digest", readers, key_for=lambda m: f"digest:{community.id}:{issue.number}:{m.id}",
                               context_for=lambda m: contexts[m.id], community=community)
    return queued + _fan_out_organizations(community, issue, slot, organizations_since)


def _fan_out_organizations(community: Community, issue: DigestIssue, slot: datetime,
                           since: datetime | None = None) -> int:
    """Each organization with a contact gets its own edition: how its people took part.

    Organizations are shared by name across communities, so the contact gets it
    only as an active member here: another community's person never reads who
    took part in this one.
    """
    active_here = select(Membership.member_id).where(Membership.community_id == community.id,
                                                     Membership.status == "active")
    organizations = db.session.scalars(select(Organization).where(
        Organization.contact_member_id.in_(active_here),
        Organization.id.in_(select(Membership.organization_id).where(
            Membership.community_id == community.id)))).all()
    queued = 0
    since = since or slot - timedelta(days={"weekly": 7, "biweekly": 14}.get(community.digest_cadence, 31))
    for organization in organizations:
        contact = db.session.get(Member, organization.contact_member_id)
        queued += mailer.queue_email(
            "digest_organization", contact, f"digest-org:{community.id}:{issue.number}:{organization.id}",
            {"issue_id": issue.id, "organization_id": organization.id, "since": since.isoformat()}, community)
    return queued


# --- content --------------------------------------------------------------------------------------

def upcoming_meetings(community: Community, member: Member, moment: datetime) -> list[dict]:
    meetings = db.session.scalars(select(Meeting).where(
        Meeting.community_id == community.id, Meeting.status == "scheduled", Meeting.starts_at > moment)
        .order_by(Meeting.starts_at).limit(5)).all()
    items = []
    for meeting in meetings:
        invited = db.session.scalar(select(Invitation).where(
            Invitation.meeting_id == meeting.id, Invitation.member_id == member.id))
        items.append({"meeting": bilingual.InLanguage(meeting, member.language),  # its title in theirs
                      "when": when_text(meeting, member.language),
                      "rsvp": rsvp_links(meeting, member) if invited else None,
                      "answer": invited.answer if invited else None})
    return items


def forms_waiting(member: Member, community: Community) -> list[dict]:
    """Forms this member has not submitted yet whose deadline has not passed, with their links."""
    from service.form_requests import form_url
    rows = db.session.execute(select(FormResponse, FormRequest).join(FormRequest).where(
        FormResponse.member_id == member.id, FormRequest.community_id == community.id,
        FormResponse.status != "submitted",
        (FormRequest.deadline_at.is_(None)) | (FormRequest.deadline_at > now()))
        .order_by(FormRequest.deadline_at)).all()
    return [{"title": bilingual.InLanguage(request, member.language).title, "url": form_url(response)}
            for response, request in rows]


def email_extras(row: OutboundEmail, member: Member, community: Community) -> dict:
    """What a digest copy shows, computed at send time from the ids its row carries."""
    issue = db.session.get(DigestIssue, row.context["issue_id"]) if row.context.get("issue_id") else \
        _upcoming_issue(community)
    slot = aware(issue.slot_at)
    since = datetime.fromisoformat(row.context["since"])
    extras = {"issue": issue, "language": member.language}
    if row.kind == "digest_organization":
        organization = db.session.get(Organization, row.context["organization_id"])
        extras.update(organization=organization, participation=participation(community, organization, since, slot))
        return extras
    module = db.session.get(LessonModule, row.context["module_id"]) if row.context.get("module_id") else None
    parts = module_parts(module, member.language) if module else {}
    extras.update(
        module=module,
        module_title=parts.get("title", ""), module_goal=parts.get("goal", ""),
        module_body=parts.get("body_text", ""), module_html=parts.get("body_html", ""),
        module_reflection=parts.get("reflection", ""), module_prompt=parts.get("practice_prompt", ""),
        module_written_in=parts.get("written_in"),  # the lesson's language when the member's was not written
        practices=practices.approved_since(community, since, slot),
        meetings=upcoming_meetings(community, member, now()),
        forms=forms_waiting(member, community),
        share_url=practices.share_url(community, member),
        **charters.digest_extras(community, member),  # charter, charter_url: "Our charter"
        **conversation_digest.in_row(row, member, community),  # for members on "digest": conversations
    )
    return extras


def participation(community: Community, organization: Organization, since: datetime, until: datetime) -> list[dict]:
    """Per member of the organization: meetings answered and attended, practices shared, in the period."""
    people = db.session.scalars(select(Membership).where(
        Membership.community_id == community.id, Membership.status == "active",
        Membership.organization_id == organization.id).order_by(Membership.name)).all()
    result = []
    for person in people:
        invitations = db.session.scalars(select(Invitation).join(Meeting).where(
            Invitation.member_id == person.member_id, Meeting.community_id == community.id,
            Meeting.starts_at > since, Meeting.starts_at <= until)).all()
        shared = db.session.scalar(select(func.count()).select_from(Practice).where(
            Practice.member_id == person.member_id, Practice.community_id == community.id,
            Practice.created_at > since, Practice.created_at <= until)) or 0
        result.append({"name": person.name, "invited": len(invitations),
                       "attended": sum(1 for i in invitations if i.attended),
                       "answered": sum(1 for i in invitations if i.answer), "practices": shared})
    return result


def _upcoming_issue(community: Community) -> DigestIssue:
    """The next issue as it would be numbered, for previews (never saved)."""
    moment = now()
    return DigestIssue(community_id=community.id, number=_next_number(community),
                       slot_at=digest_schedule.next_slot(community, moment) or moment)


def test_context(community: Community, membership: Membership | None) -> dict:
    """The context of this member's next copy, without moving their drip (previews and test sends)."""
    modules = _modules(community)
    position = membership.next_module if membership else 0
    module = modules[position] if position < len(modules) else None
    issue = _upcoming_issue(community)
    frequency = membership.member.digest_frequency if membership else "weekly"
    since = aware(membership.last_digest_at) if membership and membership.last_digest_at else \
        aware(issue.slot_at) - timedelta(days=MEMBER_INTERVAL_DAYS.get(frequency, 7))
    return {"issue_id": None, "module_id": module.id if module else None, "since": since.isoformat(),
            **conversation_digest.carried(membership, since, aware(issue.slot_at), advance=False)}


def send_test_copy(actor, community: Community, membership: Membership) -> None:
    """Queue this member's next issue to the coordinator (subject marked [TEST]); moves nothing on."""
    import uuid
    from service import audit
    mailer.staff_copy("digest_test", membership.member, actor.email,
                      f"digest-test:{community.id}:{uuid.uuid4().hex}", test_context(community, membership),
                      community)
    audit.record(actor, "digest.test", "community", community.id, community.id, as_member=membership.member_id)


def preview(community: Community, member: Member) -> tuple[str, str, str]:
    """(text, html, subject) of the member's next digest, rendered without queueing or advancing anything."""
    from service.email_render import render
    membership = db.session.scalar(select(Membership).where(
        Membership.community_id == community.id, Membership.member_id == member.id))
    row = OutboundEmail(id=0, kind="digest", recipient=member.email, context=test_context(community, membership))
    rendered = render(row, member, community, preview=True)  # its links act as nobody, like a test copy's
    return rendered.text, rendered.html, rendered.subject


# --- dashboard ------------------------------------------------------------------------------------

def history(community: Community) -> list[dict]:
    """Past issues, newest first, with their emails counted by status."""
    issues = db.session.scalars(select(DigestIssue).where(DigestIssue.community_id == community.id)
                                .order_by(DigestIssue.number.desc()).limit(52)).all()
    result = []
    for issue in issues:
        counts = dict(db.session.execute(select(OutboundEmail.status, func.count()).where(
            OutboundEmail.idempotency_key.like(f"digest%:{community.id}:{issue.number}:%"))
            .group_by(OutboundEmail.status)).all())
        result.append({"issue": issue, "counts": counts})
    return result

