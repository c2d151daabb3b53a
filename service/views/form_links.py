"""The form a member reaches from a form request or reminder: charter or meeting feedback.

The signed token names the member and their response, so one member's link
never opens another's answers. GET shows the form with the saved draft; POST
saves a draft ("Save draft") or submits ("Submit"), then redirects to the GET.
After the deadline the page says the form is closed and nothing is saved.
"""
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request

from forms.charter import CharterForm
from forms.feedback import FeedbackForm
from service import bilingual, form_requests, moments, responses
from service.errors import DomainError
from service.extensions import db, limiter
from service.models import Community, FormResponse, Member
from service.views.helpers import show_domain_error
from service.views.member_pages import archived_link, bad_link, member_id_from_link, speak

bp = Blueprint("form_links", __name__, url_prefix="/m/forms")
limiter.limit("60 per minute")(bp)

FORM_CLASSES = {"feedback": FeedbackForm, "charter": CharterForm}


@bp.route("/<int:response_id>/<token>", methods=["GET", "POST"])
def answer(response_id: int, token: str):
    member_id = member_id_from_link(form_requests.TOKEN_PURPOSE, token, object_id=response_id)
    page = responses.response_page(response_id, member_id) if member_id else None
    if page is None:  # the response is missing or someone else's
        return bad_link(member_id)
    if request.method == "POST" and page.community.archived_at is not None:  # (community_export.REFUSED_BY_THE_VIEW)
        return archived_link()
    return answer_page(page.response, page.member, page.community)


def answer_page(response: FormResponse, member: Member, community: Community | None = None):
    """Show or save one member's response; shared by /m/forms/... and the meeting's feedback link.

    The community is read here unless the caller has it already.
    A saved answer redirects (303) to the same link with ?saved=draft or
    ?saved=submitted, so reloading the confirmation never posts twice.
    """
    context = _page_context(response, member, community)
    form_request = response.request
    if not responses.is_open(form_request):
        status = 409 if request.method == "POST" else 200
        return render_template("member/form_closed.html", **_with_deadline(context)), status
    form_class = FORM_CLASSES[form_request.kind]
    if request.method != "POST":
        form = form_class(data=responses.answers_of(response))
        saved = request.args.get("saved")
        return _form_page(form, context, saved if saved == response.status else None)
    form = form_class()
    if response.status == "submitted":
        form.save_draft.data = False  # once submitted, a change is a resubmission, never a draft again
    if form.validate_on_submit():
        try:
            saved = responses.save(response, form.answers(), submit=form.is_submit()).status
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            return redirect(f"{request.path}?{urlencode({'saved': saved})}", 303)
    return _form_page(form, context, None)


def _form_page(form, context: dict, saved: str | None):
    page = render_template("member/form.html", form=form, saved=saved, **_with_deadline(context))
    return page, 400 if form.errors else 200


def _page_context(response: FormResponse, member: Member, community: Community | None) -> dict:
    """What the form's pages show, in the language its community has for the member (its title and introduction
    too, service.bilingual), but the deadline (_with_deadline)."""
    community = community or db.session.get(Community, response.request.community_id)
    form_request = bilingual.for_member(response.request, member, community)
    speak(form_request.language)
    return {"form_request": form_request, "community": community, "written_in": form_request.written_in,
            "member": member, "response": response, "questions": FORM_CLASSES[form_request.kind].QUESTIONS,
            "about_meeting": form_request.meeting_id is not None}


def _with_deadline(context: dict) -> dict:
    """The context with the deadline as the page shows it: formatted only for a page shown (a saved POST
    redirects)."""
    form_request = context["form_request"]
    deadline = moments.html(form_request.deadline_at, context["community"].time_zone, form_request.language,
                            "moment") if form_request.deadline_at else None
    return {**context, "deadline": deadline}
