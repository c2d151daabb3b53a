"""The form a member reaches from a form request or reminder: charter or meeting feedback.

The signed token names the member and their response, so one member's link
never opens another's answers. GET shows the form with the saved draft; POST
saves a draft ("Save draft") or submits ("Submit"). After the deadline the
page says the form is closed and nothing is saved.
"""
from flask import Blueprint, render_template, request

from forms.charter import CharterForm
from forms.feedback import FeedbackForm
from service import form_requests, responses
from service.errors import DomainError
from service.extensions import db, limiter
from service.models import Community, FormResponse, Meeting, Member
from service.views.helpers import show_domain_error
from service.views.member_pages import bad_link, member_from_link

bp = Blueprint("form_links", __name__, url_prefix="/m/forms")
limiter.limit("60 per minute")(bp)

FORM_CLASSES = {"feedback": FeedbackForm, "charter": CharterForm}


@bp.route("/<int:response_id>/<token>", methods=["GET", "POST"])
def answer(response_id: int, token: str):
    member = member_from_link(form_requests.TOKEN_PURPOSE, token, object_id=response_id)
    response = db.session.get(FormResponse, response_id) if member else None
    if response is None or response.member_id != member.id:
        return bad_link()
    return answer_page(response, member)


def answer_page(response: FormResponse, member: Member):
    """Show or save one member's response; shared by /m/forms/... and the meeting's feedback link."""
    form_request = response.request
    community = db.session.get(Community, form_request.community_id)
    deadline = form_requests.deadline_text(form_request, member.language) if form_request.deadline_at else None
    context = {"form_request": form_request, "community": community, "member": member, "response": response,
               "deadline": deadline, "questions": FORM_CLASSES[form_request.kind].QUESTIONS,
               "meeting": db.session.get(Meeting, form_request.meeting_id) if form_request.meeting_id else None}
    if not responses.is_open(form_request):
        status = 409 if request.method == "POST" else 200
        return render_template("member/form_closed.html", **context), status
    form_class = FORM_CLASSES[form_request.kind]
    form = form_class(data=responses.answers_of(response)) if request.method == "GET" else form_class()
    saved = None
    if form.is_submitted() and response.status == "submitted":
        form.save_draft.data = False  # once submitted, a change is a resubmission, never a draft again
    if form.validate_on_submit():
        try:
            responses.save(response, form.answers(), submit=form.is_submit())
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            saved = response.status
    return render_template("member/form.html", form=form, saved=saved, **context), 400 if form.errors else 200
