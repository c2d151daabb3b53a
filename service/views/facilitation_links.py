"""The page a facilitator reaches from their email to hand the meeting to the next member of the rotation.

GET shows the meeting and one button (a mail scanner opening the link hands
nothing on); POST does it. A link whose member no longer facilitates the
meeting (they handed it on already, or the coordinator changed it) says so.
"""
from flask import Blueprint, abort, render_template

from forms.member import ConfirmForm
from service import facilitation, meetings, moments
from service.errors import DomainError
from service.extensions import db, limiter
from service.models import Meeting
from service.views.member_pages import bad_link, member_from_link

bp = Blueprint("facilitation_links", __name__, url_prefix="/m/meetings/<int:meeting_id>")
limiter.limit("60 per minute")(bp)


@bp.route("/facilitate/<token>", methods=["GET", "POST"])
def hand_on(meeting_id: int, token: str):
    member = member_from_link(facilitation.TOKEN_PURPOSE, token, object_id=meeting_id)
    if member is None:
        return bad_link()
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None:
        abort(404)
    form = ConfirmForm()
    handed, error, status = None, None, 200
    if meeting.facilitator_id != member.id:
        status = 409  # handed on already, or the coordinator chose someone else
    elif form.validate_on_submit():
        try:
            handed = facilitation.hand_on(meeting, member, via="link")
        except DomainError as refusal:
            db.session.rollback()
            error, status = refusal.message, 409
        else:
            db.session.commit()
    return render_template("member/hand_on.html", form=form, meeting=meeting, member=member, error=error,
                           handed_to=facilitation.name_in(meeting.community, handed) if handed else "",
                           facilitator=facilitation.name_in(meeting.community, meeting.facilitator_id),
                           when=moments.html(meeting.starts_at, meeting.community.time_zone, member.language, "moment"),
                           is_open=meetings.is_open(meeting)), status
