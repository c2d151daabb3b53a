"""Meeting pages members reach from invitations and reminders: RSVP, and the feedback form.

GET shows the meeting and the member's answer (a scanner opening the link
changes nothing); the answer changes on POST, one tap on a button.
"""
from flask import Blueprint, abort, render_template, request

from forms.rsvp import RsvpForm
from service import bilingual, form_requests, meeting_queries, meetings, moments
from service.errors import DomainError
from service.extensions import db, limiter
from service.markdown_text import stored_html
from service.models import Meeting
from service.models.meetings import RSVP_ANSWERS
from service.views.form_links import answer_page
from service.views.member_pages import bad_link, member_from_link, member_id_from_link, speak

bp = Blueprint("rsvp", __name__, url_prefix="/m/meetings/<int:meeting_id>")
limiter.limit("60 per minute")(bp)


def _member_and_meeting(purpose: str, meeting_id: int, token: str):
    member = member_from_link(purpose, token, object_id=meeting_id)
    meeting = db.session.get(Meeting, meeting_id) if member else None
    return (member, meeting) if meeting else (None, None)


@bp.route("/rsvp/<token>", methods=["GET", "POST"])
def answer(meeting_id: int, token: str):
    member_id = member_id_from_link("rsvp", token, object_id=meeting_id)
    page = meeting_queries.rsvp_page(meeting_id, member_id) if member_id else None
    if page is None:
        return bad_link(member_id)
    meeting, member, invitation = page.meeting, page.member, page.invitation
    if invitation is None:
        abort(404)
    shown = bilingual.for_member(meeting, page.known, meeting.community)  # its title and agenda in their language
    speak(shown.language)
    form = RsvpForm(data={"note": invitation.note})
    error, saved = None, False
    if form.validate_on_submit():
        try:
            meetings.record_rsvp(meeting, member, request.form.get("answer", ""), form.note.data)
        except DomainError as problem:
            db.session.rollback()
            error = problem.message
        else:
            db.session.commit()
            saved = True
    # The link's ?answer= is a suggestion to confirm; once an answer is saved the page shows that instead.
    suggested = request.args.get("answer") if not saved and request.args.get("answer") in RSVP_ANSWERS else None
    status = 400 if (form.errors or error) else 200
    return render_template("member/rsvp.html", form=form, meeting=shown, member=member,
                           invitation=invitation, suggested=suggested, saved=saved, error=error,
                           when=moments.html(meeting.starts_at, meeting.community.time_zone, shown.language, "moment"),
                           written_in=shown.written_in,
                           agenda_html=stored_html(shown.agenda_html), is_open=meetings.is_open(meeting)), status


@bp.route("/feedback/<token>", methods=["GET", "POST"])
def feedback(meeting_id: int, token: str):
    """Where the meeting's feedback request points: the attendee's own feedback form."""
    member, meeting = _member_and_meeting("feedback", meeting_id, token)
    if member is None:
        return bad_link()
    form_request = form_requests.request_for_meeting(meeting)
    response = form_requests.response_of(form_request, member) if form_request else None
    if response is None:
        return render_template("member/feedback_pending.html", meeting=meeting, member=member)
    return answer_page(response, member)
