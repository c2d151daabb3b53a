"""Form requests: a coordinator sends a form (charter, meeting feedback) to chosen members with a deadline.

Each member gets a FormResponse (requested, then draft, then submitted) and an
email with their own signed link. One reminder per request goes, before the
deadline, to members who have not submitted: an RQ job scheduled under a job
id naming the deadline; the job re-checks the database (deadline unchanged,
reminder not sent yet), and the sweeper restores a job Redis lost.
"""
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, func, select

from service import audit, bilingual, mailer, moments, normalize
from service.clock import aware, now
from service.errors import DomainError
from service.extensions import db
from service.links import public_url
from service.models import Community, Coordinator, FormRequest, FormResponse, Meeting, Member, Membership
from service.models.forms import FORM_KINDS
from service.queue import cancel_after_commit, enqueue_after_commit, get_queue
from service.tokens import make_token

TOKEN_PURPOSE = "form"
FEEDBACK_OPEN_DAYS = 7
REMINDER_BEFORE = timedelta(hours=24)
MAX_INTRO = 5000


# --- sending --------------------------------------------------------------------------------------

def send_request(actor: Coordinator | None, community: Community, kind: str, title: str, member_ids: list[int],
                 deadline_at: datetime, meeting: Meeting | None = None, *, title_es: str = "", intro: str = "",
                 intro_es: str = "") -> FormRequest:
    """Send a form to chosen active members of the community, each with their own link; plan the reminder.

    `title` and `intro` are the English texts, `title_es` and `intro_es` the Spanish ones: each member reads
    theirs (service.bilingual). A feedback form with no title takes its meeting's titles.
    """
    if kind not in FORM_KINDS:
        raise DomainError(_("Choose which form to send."), "kind")
    if kind == "feedback" and meeting is None:
        raise DomainError(_("Choose the meeting the feedback is about."), "meeting_id")
    if meeting is not None and (meeting.community_id != community.id or kind != "feedback"):
        raise DomainError(_("Choose a meeting of this community."), "meeting_id")
    if meeting is not None and request_for_meeting(meeting) is not None:
        raise DomainError(_("This meeting already has a feedback form: open it from the list of forms."),
                          "meeting_id")
    texts = _check_texts(title, title_es, intro, intro_es, meeting)
    if aware(deadline_at) <= now() + timedelta(hours=1):
        raise DomainError(_("The deadline must be at least an hour from now."), "deadline_date")
    normalize.within_reach(deadline_at, "deadline_date")
    allowed = _active_ids(community, member_ids)
    if not allowed:
        raise DomainError(_("Choose at least one active member."), "member_ids")
    form_request = FormRequest(community_id=community.id, kind=kind, **texts,
                               meeting_id=meeting.id if meeting is not None else None,
                               deadline_at=aware(deadline_at).replace(microsecond=0),
                               coordinator_id=actor.id if actor else None, created_at=now())
    db.session.add(form_request)
    db.session.flush()
    added = add_members(form_request, allowed)
    audit.record(actor, "form.send", "form_request", form_request.id, community.id, kind=kind,
                 title=form_request.title,
                 members=len(added), deadline_at=form_request.deadline_at.isoformat())
    _send(form_request, "form_request", added, "form")
    _plan_reminder(form_request)
    return form_request


def _check_texts(title: str, title_es: str, intro: str, intro_es: str, meeting: Meeting | None) -> dict:
    """The request's texts as its columns, normalised and checked: a title in one language at least."""
    texts = {"title_en": normalize.text(title), "title_es": normalize.text(title_es),
             "intro": normalize.text(intro, multiline=True), "intro_es": normalize.text(intro_es, multiline=True)}
    if meeting is not None and not texts["title_en"] and not texts["title_es"]:
        texts["title_en"], texts["title_es"] = meeting.title_en, meeting.title_es
    bilingual.require_one(texts["title_en"], texts["title_es"], "title", _("Give the form a title."))
    for column, field in (("title_en", "title"), ("title_es", "title_es")):
        if len(texts[column]) > 200:
            raise DomainError(_("The title must be 200 characters or fewer."), field)
    for field in ("intro", "intro_es"):
        if len(texts[field]) > MAX_INTRO:
            raise DomainError(_("Keep the introduction under %(n)d characters.", n=MAX_INTRO), field)
    return texts


def _active_ids(community: Community, member_ids) -> list[int]:
    return sorted(db.session.scalars(select(Membership.member_id).where(
        Membership.community_id == community.id, Membership.status == "active",
        Membership.member_id.in_(list(member_ids)))))


def add_members(form_request: FormRequest, member_ids: list[int]) -> list[FormResponse]:
    """A requested response for each member who has none yet; returns the new ones."""
    have = set(db.session.scalars(select(FormResponse.member_id).where(
        FormResponse.request_id == form_request.id)))
    new = [FormResponse(request_id=form_request.id, member_id=member_id, status="requested")
           for member_id in sorted(set(member_ids) - have)]
    db.session.add_all(new)
    db.session.flush()
    return new


def _send(form_request: FormRequest, kind: str, responses: list[FormResponse], key_prefix: str) -> int:
    by_member = {r.member_id: r for r in responses}
    people = db.session.scalars(select(Member).where(Member.id.in_(list(by_member))).order_by(Member.id)).all()
    community = db.session.get(Community, form_request.community_id)
    return mailer.queue_bulk(kind, people, key_for=lambda m: f"{key_prefix}:{form_request.id}:{m.id}",
                             context_for=lambda m: {"response_id": by_member[m.id].id}, community=community)


def feedback_request(meeting: Meeting, attendee_ids: list[int]) -> FormRequest:
    """The meeting's feedback form (created once, open FEEDBACK_OPEN_DAYS), with a response per attendee.

    The request email itself is the meeting's own "feedback_request"; its link opens this form.
    """
    form_request = request_for_meeting(meeting)
    if form_request is None:
        moment = now().replace(microsecond=0)
        form_request = FormRequest(community_id=meeting.community_id, kind="feedback", meeting_id=meeting.id,
                                   title_en=meeting.title_en, title_es=meeting.title_es,
                                   deadline_at=moment + timedelta(days=FEEDBACK_OPEN_DAYS), created_at=moment)
        db.session.add(form_request)
        db.session.flush()
        _plan_reminder(form_request)
    add_members(form_request, attendee_ids)
    return form_request


def request_for_meeting(meeting: Meeting) -> FormRequest | None:
    return db.session.scalar(select(FormRequest).where(FormRequest.meeting_id == meeting.id))


def response_of(form_request: FormRequest, member: Member) -> FormResponse | None:
    return db.session.scalar(select(FormResponse).where(
        FormResponse.request_id == form_request.id, FormResponse.member_id == member.id))


def change_deadline(actor: Coordinator | None, form_request: FormRequest, deadline_at: datetime) -> None:
    """Move the deadline; the reminder is planned again (an old job finds the deadline changed and stops)."""
    if aware(deadline_at) <= now() + timedelta(hours=1):
        raise DomainError(_("The deadline must be at least an hour from now."), "deadline_date")
    normalize.within_reach(deadline_at, "deadline_date")
    old = aware(form_request.deadline_at)
    cancel_after_commit(_job_id(form_request))
    form_request.deadline_at = aware(deadline_at).replace(microsecond=0)
    if form_request.reminder_sent_at is not None and reminder_due(form_request) > now():
        form_request.reminder_sent_at = None  # a later deadline earns a new reminder
    audit.record(actor, "form.deadline", "form_request", form_request.id, form_request.community_id,
                 old=old.isoformat() if old else None, new=form_request.deadline_at.isoformat())
    _plan_reminder(form_request)


# --- links and email content ----------------------------------------------------------------------

def form_url(response: FormResponse) -> str:
    """The member's own link to their form (it reads and changes only this response)."""
    return public_url("form_links.answer", response_id=response.id,
                      token=make_token(TOKEN_PURPOSE, response.member_id, response.id))


def deadline_text(form_request: FormRequest, language: str) -> str:
    """"Tuesday, March 3, 2026 5:00 PM, Central Time (Chicago)" in the reader's language."""
    community = db.session.get(Community, form_request.community_id)
    return moments.text(form_request.deadline_at, community.time_zone, language, "moment")


def email_extras(row, member: Member, community: Community) -> dict:
    """What form emails need at send time: the request as it is now and the member's link."""
    response = db.session.get(FormResponse, row.context["response_id"])
    form_request = bilingual.InLanguage(response.request, member.language)  # its title and intro in theirs
    return {"form_request": form_request, "written_in": form_request.written_in, "form_url": form_url(response),
            "deadline": deadline_text(form_request, member.language), "status": response.status}


# --- the reminder ---------------------------------------------------------------------------------

def reminder_due(form_request: FormRequest) -> datetime:
    """A day before the deadline, or halfway from sending to the deadline when that is closer."""
    deadline, created = aware(form_request.deadline_at), aware(form_request.created_at)
    due = deadline - REMINDER_BEFORE
    if due <= created:
        due = created + (deadline - created) / 2
    return due.replace(microsecond=0)


def _job_id(form_request: FormRequest) -> str:
    return f"form-reminder-{form_request.id}-{int(aware(form_request.deadline_at).timestamp())}"


def _plan_reminder(form_request: FormRequest) -> None:
    if form_request.deadline_at is None or form_request.reminder_sent_at is not None:
        return
    due = reminder_due(form_request)
    if due > now():
        enqueue_after_commit("jobs.forms.send_reminders", form_request.id,
                             int(aware(form_request.deadline_at).timestamp()), job_id=_job_id(form_request), at=due)


def send_reminders(request_id: int, deadline_timestamp: int) -> int:
    """Remind members who have not submitted; a stale job (deadline moved, reminder sent, deadline
    passed) does nothing. Returns how many emails were queued."""
    form_request = db.session.get(FormRequest, request_id)
    if form_request is None or form_request.deadline_at is None or form_request.reminder_sent_at is not None \
            or int(aware(form_request.deadline_at).timestamp()) != deadline_timestamp \
            or aware(form_request.deadline_at) <= now():
        return 0
    waiting = list(db.session.scalars(select(FormResponse).where(
        FormResponse.request_id == form_request.id, FormResponse.status != "submitted")))
    queued = _send(form_request, "form_reminder", waiting, "form-reminder")
    form_request.reminder_sent_at = now()
    db.session.commit()
    return queued


def sweep(grace: timedelta | None = None) -> dict:
    """Restore reminders Redis lost: overdue ones are sent now, future ones are scheduled again."""
    from rq.job import Job
    grace = grace if grace is not None else timedelta(seconds=current_app.config["MAIL_SWEEP_GRACE"])
    queue, moment, counts = get_queue(), now(), {"form_reminders_sent": 0, "form_reminders_rescheduled": 0}
    for form_request in db.session.scalars(select(FormRequest).where(
            FormRequest.reminder_sent_at.is_(None), FormRequest.deadline_at > moment)).all():
        due, deadline = reminder_due(form_request), int(aware(form_request.deadline_at).timestamp())
        if due <= moment - grace:
            if send_reminders(form_request.id, deadline):
                counts["form_reminders_sent"] += 1
        elif due > moment and not Job.exists(_job_id(form_request), connection=queue.connection):
            queue.enqueue_at(due, "jobs.forms.send_reminders", form_request.id, deadline,
                             job_id=_job_id(form_request))
            counts["form_reminders_rescheduled"] += 1
    db.session.commit()
    return counts


# --- dashboard queries ----------------------------------------------------------------------------

def request_in(community: Community, request_id: int) -> FormRequest | None:
    """The request if it belongs to this community, else None (views answer 404)."""
    return db.session.scalar(select(FormRequest).where(FormRequest.id == request_id,
                                                       FormRequest.community_id == community.id))


def community_requests(community: Community) -> list[tuple[FormRequest, int, int]]:
    """(request, submitted, asked) per request of the community, latest first."""
    submitted = func.count(FormResponse.id).filter(FormResponse.status == "submitted")
    rows = db.session.execute(
        select(FormRequest, submitted, func.count(FormResponse.id))
        .outerjoin(FormResponse, FormResponse.request_id == FormRequest.id)
        .where(FormRequest.community_id == community.id)
        .group_by(FormRequest.id).order_by(FormRequest.created_at.desc(), FormRequest.id.desc()))
    return [(form_request, done, asked) for form_request, done, asked in rows]


def responses(form_request: FormRequest) -> list[FormResponse]:
    """Every member asked, with their member loaded, by name."""
    from sqlalchemy.orm import contains_eager
    return list(db.session.scalars(
        select(FormResponse).join(Member).join(Membership, and_(
            Membership.member_id == Member.id, Membership.community_id == form_request.community_id))
        .where(FormResponse.request_id == form_request.id)
        .options(contains_eager(FormResponse.member)).order_by(func.lower(Membership.name), Member.id)))


def meetings_for_feedback(community: Community) -> list[Meeting]:
    """Meetings that have started, were not cancelled and have no feedback form yet, latest first."""
    taken = select(FormRequest.meeting_id).where(FormRequest.meeting_id.is_not(None))
    return list(db.session.scalars(select(Meeting).where(
        Meeting.community_id == community.id, Meeting.status == "scheduled", Meeting.starts_at <= now(),
        Meeting.id.not_in(taken)).order_by(Meeting.starts_at.desc())))
