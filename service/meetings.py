"""Meetings: scheduling, invitations, RSVPs, reminders, changes, attendance and the feedback request.

Web RSVPs, email-reply RSVPs and tests all call record_rsvp(). Reminders are
database rows; one RQ job per reminder (not per member) is scheduled for its
due time under a job id that names the due time, and the job re-checks the
row, so a reschedule or a cancellation can never let an old reminder through.
"""
import uuid
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import get_locale, gettext as _
from sqlalchemy import func, select

from service import (audit, bilingual, community_archive, facilitation, form_requests, mailer, moments, normalize,
                     time_zones)
from service.clock import aware, now
from service.errors import DomainError
from service.extensions import db
from service.markdown_text import render
from service.models import Community, Coordinator, Invitation, Meeting, MeetingSeries, Member, Membership, Reminder
from service.models.meetings import RSVP_ANSWERS
from service.queue import cancel_after_commit, enqueue_after_commit, get_queue

DEFAULT_REMINDER_OFFSETS = (1440, 60)
DETAIL_FIELDS = ("title_en", "title_es", "agenda", "agenda_es", "duration_minutes", "location", "video_url",
                 "facilitator_id")


def to_utc(community: Community, day: date, at: time, fields: tuple[str, str] = ("start_date", "start_time")
           ) -> datetime:
    """A local wall-clock time in the community's zone as UTC; refuses times a clock change skips.

    `fields` names the form's date and time fields, for the error's place."""
    zone = ZoneInfo(community.time_zone)
    date_field, time_field = fields
    normalize.within_reach(datetime.combine(day, at, tzinfo=timezone.utc), date_field)  # 9999-12-31 would overflow
    local = datetime.combine(day, at).replace(tzinfo=zone)
    utc = local.astimezone(timezone.utc)
    if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise DomainError(_("%(time)s does not exist on that day in %(zone)s: the clocks change. Choose another time.",
                            time=moments.wall_clock_text(at, str(get_locale())),
                            zone=time_zones.zone_name(community.time_zone, str(get_locale()))), time_field)
    return utc


def local_time(meeting: Meeting) -> datetime:
    return aware(meeting.starts_at).astimezone(ZoneInfo(meeting.community.time_zone))


def reminder_offsets(community: Community) -> list[int]:
    return sorted(set(community.reminder_offsets or DEFAULT_REMINDER_OFFSETS), reverse=True)


# --- scheduling -----------------------------------------------------------------------------------

def _check_details(details: dict) -> dict:
    """The details as stored: `title` and `agenda` are the English texts, `title_es` and `agenda_es` the Spanish
    ones (service.bilingual); the title is needed in one language at least."""
    details = dict(details)
    title, title_es = normalize.text(details.pop("title", None)), normalize.text(details.get("title_es"))
    bilingual.require_one(title, title_es, "title", _("A meeting needs a title."))
    for field, value in (("title", title), ("title_es", title_es)):
        if len(value) > 200:
            raise DomainError(_("The title must be 200 characters or fewer."), field)
    duration = details.get("duration_minutes") or 60
    if not 5 <= duration <= 24 * 60:
        raise DomainError(_("The duration must be between 5 minutes and 24 hours."), "duration_minutes")
    return {**details, "title_en": title, "title_es": title_es, "duration_minutes": duration,
            "video_url": normalize.web_link(details.get("video_url"), "video_url"),
            "location": normalize.text(details.get("location")),
            "agenda": normalize.text(details.get("agenda"), multiline=True),
            "agenda_es": normalize.text(details.get("agenda_es"), multiline=True)}


def create_meeting(actor: Coordinator | None, community: Community, *, starts_at: datetime,
                   member_ids: list[int] | None = None, series: MeetingSeries | None = None,
                   send_invitations: bool = True, **details) -> Meeting:
    """Schedule a meeting, invite members (all active ones by default) and plan its reminders.

    As one occurrence of a `series` (service.meeting_series), it keeps the
    start the series' rule gave it; a series invited as a whole sends its own
    invitation instead of this meeting's (`send_invitations`)."""
    values = _check_details(details)
    _check_facilitator(community.id, values.get("facilitator_id"))
    if aware(starts_at) <= now():
        raise DomainError(_("The meeting must start in the future."), "start_date")
    normalize.within_reach(starts_at, "start_date")
    meeting = Meeting(community_id=community.id, uid=f"{uuid.uuid4()}@{current_app.config['INBOUND_DOMAIN']}",
                      starts_at=starts_at, **{k: values.get(k) for k in DETAIL_FIELDS if k in values})
    meeting.community = community
    if series is not None:
        meeting.series_id, meeting.series, meeting.series_starts_at = series.id, series, starts_at
    _render_agenda(meeting)
    db.session.add(meeting)
    db.session.flush()
    audit.record(actor, "meeting.create", "meeting", meeting.id, community.id, title=meeting.title,
                 starts_at=starts_at.isoformat())
    if member_ids is None:
        member_ids = list(db.session.scalars(select(Membership.member_id).where(
            Membership.community_id == community.id, Membership.status == "active")))
    invite(actor, meeting, member_ids, notify=send_invitations)
    _plan_reminders(meeting)
    facilitation.rotate(community)  # a facilitator from the rotation, unless one was chosen by hand
    return meeting


def _render_agenda(meeting: Meeting) -> None:
    """Store the agenda, in each language, as sanitised HTML and plain text: rendered once, when saved, not per
    email or page."""
    meeting.agenda_html, meeting.agenda_plain = render(meeting.agenda or "")
    meeting.agenda_html_es, meeting.agenda_plain_es = render(meeting.agenda_es or "")


def invite(actor: Coordinator | None, meeting: Meeting, member_ids: list[int], notify: bool = True) -> int:
    """Invite more members (active members of the community only); returns how many were new.

    Without `notify`, the invitation email is someone else's to send (a series invited as a whole)."""
    _check_changeable(meeting)
    allowed = set(db.session.scalars(select(Membership.member_id).where(
        Membership.community_id == meeting.community_id, Membership.status == "active",
        Membership.member_id.in_(member_ids))))
    already = set(db.session.scalars(select(Invitation.member_id).where(Invitation.meeting_id == meeting.id)))
    new_ids = sorted(allowed - already)
    db.session.add_all(Invitation(meeting_id=meeting.id, member_id=member_id) for member_id in new_ids)
    db.session.flush()
    if new_ids:
        audit.record(actor, "meeting.invite", "meeting", meeting.id, meeting.community_id, invited=len(new_ids))
    if new_ids and notify:
        _send(meeting, "meeting_invitation", new_ids, f"invite:{meeting.id}:{meeting.sequence}")
    return len(new_ids)


def _check_facilitator(community_id: int, facilitator_id: int | None) -> None:
    """A facilitator must be a member of the meeting's own community."""
    if facilitator_id is not None and db.session.scalar(select(Membership.id).where(
            Membership.community_id == community_id, Membership.member_id == facilitator_id)) is None:
        raise DomainError(_("The facilitator must be a member of this community."), "facilitator_id")


def _send(meeting: Meeting, kind: str, member_ids: list[int], key_prefix: str) -> int:
    people = db.session.scalars(select(Member).where(Member.id.in_(member_ids)).order_by(Member.id)).all()
    return mailer.queue_bulk(kind, people, key_for=lambda m: f"{key_prefix}:{m.id}",
                             context_for=lambda m: {"meeting_id": meeting.id}, community=meeting.community)


def _invitee_ids(meeting: Meeting, exclude_no: bool = False) -> list[int]:
    query = select(Invitation.member_id).where(Invitation.meeting_id == meeting.id)
    if exclude_no:
        query = query.where((Invitation.answer.is_(None)) | (Invitation.answer != "no"))
    return list(db.session.scalars(query))


def _check_changeable(meeting: Meeting) -> None:
    if meeting.status != "scheduled":
        raise DomainError(_("This meeting was cancelled."))
    if aware(meeting.starts_at) <= now():
        raise DomainError(_("This meeting has already started and can no longer be changed."))


def update_meeting(actor: Coordinator | None, meeting: Meeting, *, starts_at: datetime, notify: bool = True,
                   **details) -> bool:
    """Change a meeting; invitees get an update (same UID, SEQUENCE + 1), unless a series' own update tells
    them (`notify` False). True if anything changed."""
    _check_changeable(meeting)
    values = _check_details(details)
    changes = {k: [getattr(meeting, k), values[k]] for k in DETAIL_FIELDS
               if k in values and getattr(meeting, k) != values[k]}
    if "facilitator_id" in changes:
        _check_facilitator(meeting.community_id, values["facilitator_id"])
        meeting.facilitator_told_at = None  # the new one is told (service.facilitation)
    moved = aware(meeting.starts_at) != aware(starts_at)
    if moved:
        if aware(starts_at) <= now():
            raise DomainError(_("The meeting must start in the future."), "start_date")
        normalize.within_reach(starts_at, "start_date")
        changes["starts_at"] = [aware(meeting.starts_at).isoformat(), aware(starts_at).isoformat()]
    if not changes:
        return False
    for key in DETAIL_FIELDS:
        if key in values:
            setattr(meeting, key, values[key])
    _render_agenda(meeting)
    meeting.starts_at = starts_at
    meeting.sequence += 1
    audit.record(actor, "meeting.update", "meeting", meeting.id, meeting.community_id,
                 changes={k: [str(a), str(b)] for k, (a, b) in changes.items()}, sequence=meeting.sequence)
    if notify:
        _send(meeting, "meeting_update", _invitee_ids(meeting), f"update:{meeting.id}:{meeting.sequence}")
    if moved:
        _plan_reminders(meeting)
    if "facilitator_id" in changes:
        facilitation.rotate(meeting.community)
    return True


def cancel_meeting(actor: Coordinator | None, meeting: Meeting, notify: bool = True) -> None:
    """Cancel: invitees get METHOD:CANCEL (unless a series' own email tells them) and no reminder fires."""
    if meeting.status == "cancelled":
        return
    _check_changeable(meeting)
    meeting.status = "cancelled"
    meeting.sequence += 1
    for reminder in _reminders(meeting):
        if reminder.status == "scheduled":
            cancel_after_commit(_job_id(reminder))
            reminder.status = "cancelled"
    audit.record(actor, "meeting.cancel", "meeting", meeting.id, meeting.community_id, title=meeting.title)
    if notify:
        _send(meeting, "meeting_cancelled", _invitee_ids(meeting), f"cancel:{meeting.id}")


# --- RSVP -----------------------------------------------------------------------------------------

def invitation_for(meeting: Meeting, member: Member) -> Invitation | None:
    return db.session.scalar(select(Invitation).where(
        Invitation.meeting_id == meeting.id, Invitation.member_id == member.id))


def meeting_and_invitation(meeting_id: int, member: Member) -> tuple[Meeting | None, Invitation | None]:
    """The meeting and the member's invitation to it (None when not invited), in one query rather than two."""
    found = db.session.execute(select(Meeting, Invitation).outerjoin(
        Invitation, (Invitation.meeting_id == Meeting.id) & (Invitation.member_id == member.id))
        .where(Meeting.id == meeting_id)).first()
    return (found[0], found[1]) if found is not None else (None, None)


def record_rsvp(meeting: Meeting, member: Member, answer: str, note: str = "", via: str = "web",
                invitation: Invitation | None = None) -> Invitation:
    """A member's answer; it can change until the meeting starts. `invitation`: the member's to this meeting,
    when the caller has read it already (the calendar handler does)."""
    if answer not in RSVP_ANSWERS:
        raise DomainError(_("Answer yes, maybe or no."), "answer")
    community_archive.refuse_if_archived(meeting.community_id)
    invitation = invitation or invitation_for(meeting, member)
    if invitation is None:
        raise DomainError(_("You are not invited to this meeting."))
    if meeting.status == "cancelled":
        raise DomainError(_("This meeting was cancelled."))
    if aware(meeting.starts_at) <= now():
        raise DomainError(_("This meeting has already started, so answers are closed."))
    note = normalize.text(note)[:500]
    if invitation.answer != answer or invitation.note != note:
        audit.record(None, "meeting.rsvp", "meeting", meeting.id, meeting.community_id,
                     member=member.id, answer=answer, via=via)
    invitation.answer, invitation.note, invitation.answered_at = answer, note, now()
    if answer == "no":
        facilitation.facilitator_said_no(meeting, member)
    if meeting.series is not None and meeting.series.invitation == "series":
        from service.meeting_series import answer_following  # it builds on this module
        answer_following(meeting, member, answer, note)
    return invitation


def is_open(meeting: Meeting) -> bool:
    """Whether answers can still change."""
    return meeting.status == "scheduled" and aware(meeting.starts_at) > now()


def rsvp_counts(meeting: Meeting) -> dict[str | None, int]:
    rows = db.session.execute(select(Invitation.answer, func.count()).where(
        Invitation.meeting_id == meeting.id).group_by(Invitation.answer)).all()
    return dict(rows)


# --- reminders ------------------------------------------------------------------------------------

def _reminders(meeting: Meeting) -> list[Reminder]:
    return list(db.session.scalars(select(Reminder).where(Reminder.meeting_id == meeting.id)))


def _job_id(reminder: Reminder) -> str:
    return f"reminder-{reminder.id}-{int(aware(reminder.due_at).timestamp())}"


def _plan_reminders(meeting: Meeting) -> None:
    """(Re)create one reminder row per offset and schedule its job; old jobs are cancelled."""
    existing = {r.offset_minutes: r for r in _reminders(meeting)}
    for offset in reminder_offsets(meeting.community):
        due = (aware(meeting.starts_at) - timedelta(minutes=offset)).replace(microsecond=0)
        reminder = existing.pop(offset, None)
        if reminder is None:
            reminder = Reminder(meeting_id=meeting.id, offset_minutes=offset, due_at=due)
            db.session.add(reminder)
            db.session.flush()
        elif reminder.status == "scheduled":
            cancel_after_commit(_job_id(reminder))
        reminder.due_at = due
        if due > now():
            reminder.status = "scheduled"
        elif reminder.status != "sent":  # a reminder already sent stays sent
            reminder.status = "skipped"
        if reminder.status == "scheduled":
            enqueue_after_commit("jobs.meetings.send_reminder", reminder.id, int(due.timestamp()),
                                 job_id=_job_id(reminder), at=due)
    for stale in existing.values():  # offsets the community no longer uses
        if stale.status == "scheduled":
            cancel_after_commit(_job_id(stale))
            stale.status = "cancelled"


def send_reminder(reminder_id: int, due_timestamp: int) -> int:
    """Fan a due reminder out to invitees who did not say No; a stale job (rescheduled,
    cancelled, already sent) does nothing. Returns how many emails were queued."""
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.status != "scheduled" or \
            int(aware(reminder.due_at).timestamp()) != due_timestamp:
        return 0
    meeting = db.session.get(Meeting, reminder.meeting_id)
    if meeting.status != "scheduled" or aware(meeting.starts_at) <= now():
        reminder.status = "missed" if meeting.status == "scheduled" else "cancelled"
        db.session.commit()
        return 0
    queued = _send(meeting, "meeting_reminder", _invitee_ids(meeting, exclude_no=True),
                   f"reminder:{reminder.id}:{due_timestamp}")
    reminder.status, reminder.sent_at = "sent", now()
    db.session.commit()
    return queued


def sweep(grace: timedelta | None = None) -> dict:
    """Restore what Redis lost: overdue reminders are sent now (or marked missed after the start),
    future ones are scheduled again; feedback requests that are due go out."""
    grace = grace if grace is not None else timedelta(seconds=current_app.config["MAIL_SWEEP_GRACE"])
    from rq.job import Job
    queue, moment, counts = get_queue(), now(), {"reminders_sent": 0, "rescheduled": 0, "feedback": 0}
    for reminder in db.session.scalars(select(Reminder).where(Reminder.status == "scheduled")).all():
        due = aware(reminder.due_at)
        if due <= moment - grace:
            if send_reminder(reminder.id, int(due.timestamp())):
                counts["reminders_sent"] += 1
        elif due > moment and not Job.exists(_job_id(reminder), connection=queue.connection):
            queue.enqueue_at(due, "jobs.meetings.send_reminder", reminder.id, int(due.timestamp()),
                             job_id=_job_id(reminder))
            counts["rescheduled"] += 1
    for meeting in db.session.scalars(select(Meeting).where(
            Meeting.feedback_due_at <= moment, Meeting.feedback_sent_at.is_(None))).all():
        counts["feedback"] += send_feedback_requests(meeting.id)
    db.session.commit()
    return counts


# --- after the meeting ----------------------------------------------------------------------------

def mark_attendance(actor: Coordinator | None, meeting: Meeting, attended_ids: set[int]) -> None:
    """Record who came; the feedback request goes to them FEEDBACK delay hours after the meeting."""
    if meeting.status != "scheduled":
        raise DomainError(_("This meeting was cancelled."))
    if aware(meeting.starts_at) > now():
        raise DomainError(_("Attendance can be taken once the meeting has started."))
    invitations = db.session.scalars(select(Invitation).where(Invitation.meeting_id == meeting.id)).all()
    for invitation in invitations:
        invitation.attended = invitation.member_id in attended_ids
    meeting.attendance_taken_at = now()
    audit.record(actor, "meeting.attendance", "meeting", meeting.id, meeting.community_id,
                 attended=sum(1 for i in invitations if i.attended), invited=len(invitations))
    if meeting.feedback_sent_at is None:
        ends = aware(meeting.starts_at) + timedelta(minutes=meeting.duration_minutes)
        due = (max(ends, now()) + timedelta(hours=meeting.community.feedback_delay_hours)).replace(microsecond=0)
        meeting.feedback_due_at = due
        enqueue_after_commit("jobs.meetings.request_feedback", meeting.id, job_id=f"feedback-{meeting.id}", at=due)


def send_feedback_requests(meeting_id: int) -> int:
    """Ask attendees for feedback once the delay has passed; at most once per meeting."""
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or meeting.feedback_sent_at is not None or meeting.feedback_due_at is None \
            or aware(meeting.feedback_due_at) > now() + timedelta(seconds=1):
        return 0
    attendees = list(db.session.scalars(select(Invitation.member_id).where(
        Invitation.meeting_id == meeting.id, Invitation.attended.is_(True))))
    form_requests.feedback_request(meeting, attendees)  # the form the email's link opens, one response per attendee
    queued = _send(meeting, "feedback_request", attendees, f"feedback:{meeting.id}")
    meeting.feedback_sent_at = now()
    db.session.commit()
    return queued
