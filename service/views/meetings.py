"""Dashboard: a community's meetings, scheduling and changing one, its invitees and answers, attendance."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale, gettext as _, ngettext
from flask_login import current_user, login_required

from forms.meeting import AttendanceForm, CancelForm, InviteForm, MeetingEditForm, MeetingForm, member_choices
from forms.member import ConfirmForm
from service import bilingual, facilitation, meeting_queries, meeting_series, meetings, members, moments, nudges
from service.errors import DomainError
from service.extensions import db
from service.markdown_text import stored_html
from service.models import Community, Meeting
from service.views.helpers import community_or_404, saved, show_domain_error

bp = Blueprint("meetings", __name__, url_prefix="/communities/<int:community_id>/meetings")


def _meeting_or_404(community: Community, meeting_id: int) -> Meeting:
    """The meeting if it belongs to this (visible) community; 404 for any other id."""
    meeting = meeting_queries.meeting_in(community, meeting_id)
    if meeting is None:
        abort(404)
    return meeting


def _when(meeting: Meeting):
    """The meeting's start with its zone's name, in the page's language, as a <time> element."""
    return moments.html(meeting.starts_at, meeting.community.time_zone, str(get_locale()), "moment")


def _started(meeting: Meeting) -> bool:
    return meetings.aware(meeting.starts_at) <= meetings.now()


@bp.route("/")
@login_required
def index(community_id: int):
    community = community_or_404(community_id)
    upcoming, past = meeting_queries.community_meetings(community)
    return render_template("meetings/index.html", community=community, upcoming=upcoming, past=past,
                           rates=meeting_queries.meeting_rates(upcoming + past))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new(community_id: int):
    community = community_or_404(community_id)
    form = MeetingForm()
    active, names = meeting_queries.active_members(community), members.names_in(community)
    form.facilitator_id.choices = member_choices(active, names, blank=_("No facilitator"))
    form.member_ids.choices = member_choices(active, names)
    if form.validate_on_submit():
        try:
            starts_at = meetings.to_utc(community, form.start_date.data, form.start_time.data)
            member_ids = None if form.invite_all.data else form.member_ids.data
            if form.repeat.data:
                series = meeting_series.create_series(
                    current_user, community, starts_at=starts_at, frequency=form.repeat.data,
                    invitation=form.invitation.data, member_ids=member_ids, **form.series_end(), **_details(form))
                meeting = meeting_series.lead(series)
            else:
                meeting = meetings.create_meeting(current_user, community, starts_at=starts_at,
                                                  member_ids=member_ids, **_details(form))
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            invited = meeting_queries.meeting_rates([meeting])[meeting.id]["invited"]
            db.session.commit()
            if meeting.series is not None:
                flash(_series_scheduled(meeting.series, invited))
            else:
                flash(ngettext("Meeting scheduled. %(num)d invitation is on its way.",
                               "Meeting scheduled. %(num)d invitations are on their way.", invited))
            return redirect(url_for("meetings.show", community_id=community.id, meeting_id=meeting.id))
    return render_template("meetings/form.html", form=form, community=community, meeting=None,
                           readers=bilingual.readers(community)), \
        400 if form.errors else 200


def _series_scheduled(series, invited: int) -> str:
    meetings_text = ngettext("%(num)d meeting scheduled.", "%(num)d meetings scheduled.", series.occurrences)
    if series.invitation == "series":
        return meetings_text + " " + ngettext(
            "%(num)d invitation to the whole series is on its way.",
            "%(num)d invitations to the whole series are on their way.", invited)
    return meetings_text + " " + ngettext(
        "%(num)d member is invited to each, with an invitation per meeting.",
        "%(num)d members are invited to each, with an invitation per meeting.", invited)


@bp.route("/<int:meeting_id>")
@login_required
def show(community_id: int, meeting_id: int):
    community = community_or_404(community_id)
    meeting = _meeting_or_404(community, meeting_id)
    return _render_show(community, meeting, InviteForm())


def _render_show(community: Community, meeting: Meeting, invite_form: InviteForm, status: int = 200):
    """The meeting page; answers and counts are read from the database on every load."""
    invitations, names = meeting_queries.invitations(meeting), members.names_in(community)
    invite_form.member_ids.choices = member_choices(meeting_queries.uninvited_members(meeting), names)
    by_answer = {answer: [names[i.member_id] for i in invitations if i.answer == answer]
                 for answer in ("yes", "maybe", "no", None)}
    return render_template("meetings/show.html", community=community, meeting=meeting, invitations=invitations,
                           names=names, swaps=facilitation.swaps(meeting),
                           counts=meetings.rsvp_counts(meeting), by_answer=by_answer,
                           invite_form=invite_form, cancel_form=CancelForm(), when=_when(meeting),
                           agenda_html=stored_html(meeting.agenda_html), started=_started(meeting),
                           agenda_html_es=stored_html(meeting.agenda_html_es),
                           nudge=nudges.for_meeting(meeting), nudge_form=ConfirmForm(),
                           local=moments.writer(community.time_zone, str(get_locale())), series=_series_view(meeting)), status


def _series_view(meeting: Meeting) -> dict | None:
    """The meeting's series as its page shows it: the rule in words and every meeting of it."""
    if meeting.series is None:
        return None
    every = meeting_series.occurrences(meeting.series)
    return {"series": meeting.series, "occurrences": every, "when": _when,
            "rule": meeting_series.describe(meeting.series, meetings.local_time(every[0]).replace(tzinfo=None)),
            "following": len(meeting_series.this_and_following(meeting)) if meetings.is_open(meeting) else 0}


@bp.route("/<int:meeting_id>/edit", methods=["GET", "POST"])
@login_required
def edit(community_id: int, meeting_id: int):
    community = community_or_404(community_id)
    meeting = _meeting_or_404(community, meeting_id)
    if meeting.status != "scheduled":
        flash(_("This meeting was cancelled, so it can no longer be changed."), "error")
        return redirect(url_for("meetings.show", community_id=community.id, meeting_id=meeting.id))
    local = meetings.local_time(meeting)
    form = MeetingEditForm(data={
        "title": meeting.title_en, "agenda": meeting.agenda, "title_es": meeting.title_es,
        "agenda_es": meeting.agenda_es, "start_date": local.date(),
        "start_time": local.time().replace(second=0, microsecond=0), "duration_minutes": meeting.duration_minutes,
        "location": meeting.location, "video_url": meeting.video_url, "facilitator_id": meeting.facilitator_id})
    facilitators = meeting_queries.active_members(community)
    if meeting.facilitator is not None and meeting.facilitator not in facilitators:
        facilitators.append(meeting.facilitator)  # no longer active, but still this meeting's facilitator
    form.facilitator_id.choices = member_choices(facilitators, members.names_in(community), blank=_("No facilitator"))
    if meeting.series is None:
        del form.scope
    if form.validate_on_submit():
        following = meeting.series is not None and form.scope.data == "following"
        try:
            starts_at = meetings.to_utc(community, form.start_date.data, form.start_time.data)
            if following:
                changed = meeting_series.update_following(current_user, meeting, starts_at=starts_at,
                                                          **_details(form))
            else:
                changed = meetings.update_meeting(current_user, meeting, starts_at=starts_at, **_details(form))
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            invited = meeting_queries.meeting_rates([meeting])[meeting.id]["invited"]
            db.session.commit()
            if following and changed:
                flash(ngettext("Changes saved for %(num)d meeting of the series; invitees get an update.",
                               "Changes saved for %(num)d meetings of the series; invitees get an update.", changed))
            else:
                flash(ngettext("Changes saved. %(num)d invitee gets an update.",
                               "Changes saved. %(num)d invitees get an update.", invited) if changed
                      else _("Nothing changed, so no update was sent."))
            return redirect(url_for("meetings.show", community_id=community.id, meeting_id=meeting.id))
    return render_template("meetings/form.html", form=form, community=community, meeting=meeting,
                           readers=bilingual.readers(community)), \
        400 if form.errors else 200


def _details(form: MeetingForm) -> dict:
    return {name: getattr(form, name).data
            for name in ("title", "title_es", "agenda", "agenda_es", "duration_minutes", "location", "video_url",
                         "facilitator_id")}


@bp.route("/<int:meeting_id>/cancel", methods=["POST"])
@login_required
def cancel(community_id: int, meeting_id: int):
    community = community_or_404(community_id)
    meeting = _meeting_or_404(community, meeting_id)
    if not CancelForm().validate_on_submit():
        abort(400)
    if meeting.status == "cancelled":
        flash(_("This meeting was already cancelled."))
    else:
        meetings.cancel_meeting(current_user, meeting)
        db.session.commit()
        flash(_("Meeting cancelled. Every invitee gets a cancellation that removes it from their calendar."))
    return redirect(url_for("meetings.show", community_id=community.id, meeting_id=meeting.id))


@bp.route("/<int:meeting_id>/cancel-following", methods=["POST"])
@login_required
def cancel_following(community_id: int, meeting_id: int):
    """Cancel this meeting of a series and every later one."""
    community = community_or_404(community_id)
    meeting = _meeting_or_404(community, meeting_id)
    if not CancelForm().validate_on_submit() or meeting.series is None:
        abort(400)
    try:
        cancelled = meeting_series.cancel_following(current_user, meeting)
    except DomainError as error:
        db.session.rollback()
        flash(error.message)
    else:
        db.session.commit()
        flash(ngettext("%(num)d meeting of the series cancelled; invitees are told.",
                       "%(num)d meetings of the series cancelled; invitees are told.", cancelled))
    return redirect(url_for("meetings.show", community_id=community.id, meeting_id=meeting.id))


@bp.route("/<int:meeting_id>/invite", methods=["POST"])
@login_required
def invite(community_id: int, meeting_id: int):
    community = community_or_404(community_id)
    meeting = _meeting_or_404(community, meeting_id)
    form = InviteForm()
    form.member_ids.choices = member_choices(meeting_queries.uninvited_members(meeting), members.names_in(community))
    added = saved(form, lambda: meetings.invite(current_user, meeting, form.member_ids.data))
    if added is not None:
        flash(ngettext("%(num)d more member invited.", "%(num)d more members invited.", added))
        return redirect(url_for("meetings.show", community_id=community.id, meeting_id=meeting.id))
    return _render_show(community, meeting, form, 400)


@bp.route("/<int:meeting_id>/nudge", methods=["POST"])
@login_required
def nudge(community_id: int, meeting_id: int):
    community = community_or_404(community_id)
    meeting = _meeting_or_404(community, meeting_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    nudged(lambda: nudges.nudge_meeting(current_user, meeting))
    return redirect(url_for("meetings.show", community_id=community.id, meeting_id=meeting.id))


def nudged(send) -> None:
    """Send a nudge and say what happened: how many were reminded, nothing new, or why not."""
    try:
        queued = send()
    except DomainError as error:
        db.session.rollback()
        flash(error.message)
        return
    db.session.commit()
    if queued:
        flash(ngettext("Reminder on its way to %(num)d member who has not answered.",
                       "Reminder on its way to the %(num)d members who have not answered.", queued))
    else:
        flash(_("Nothing sent: everyone who has not answered was already reminded."))


@bp.route("/<int:meeting_id>/attendance", methods=["GET", "POST"])
@login_required
def attendance(community_id: int, meeting_id: int):
    community = community_or_404(community_id)
    meeting = _meeting_or_404(community, meeting_id)
    invitations = meeting_queries.invitations(meeting)
    if meeting.attendance_taken_at is not None:
        ticked = [i.member_id for i in invitations if i.attended]
    else:
        ticked = [i.member_id for i in invitations if i.answer == "yes"]
    form = AttendanceForm(data={"attended": ticked})
    form.attended.choices = member_choices((i.member for i in invitations), members.names_in(community))
    if form.validate_on_submit():
        said_yes = {i.member_id for i in invitations if i.answer == "yes"}
        attended = said_yes if form.all_yes.data else set(form.attended.data)
        try:
            meetings.mark_attendance(current_user, meeting, attended)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("Attendance saved: %(attended)d of %(invited)d came.",
                    attended=len(attended & {i.member_id for i in invitations}), invited=len(invitations)))
            return redirect(url_for("meetings.show", community_id=community.id, meeting_id=meeting.id))
    return render_template("meetings/attendance.html", form=form, community=community, meeting=meeting,
                           rows=list(zip(form.attended, invitations)), when=_when(meeting),
                           can_take=meeting.status == "scheduled" and _started(meeting)), \
        400 if form.errors else 200
