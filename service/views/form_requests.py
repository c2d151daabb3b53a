"""Dashboard: a community's form requests, sending a form to members, and who has answered one."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale, gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user, login_required

from forms import choices
from forms.form_request import DeadlineForm, SendFormForm
from forms.meeting import member_choices
from forms.member import ConfirmForm
from service import (bilingual, form_requests, meeting_emails, meeting_queries, meetings, members, moments, nudges,
                     responses)
from service.errors import DomainError
from service.extensions import db
from service.models import Community, FormRequest
from service.questions import questions
from service.views.helpers import community_or_404, show_domain_error
from service.views.meetings import nudged

bp = Blueprint("form_requests", __name__, url_prefix="/communities/<int:community_id>/forms")

FORM_KINDS = {"charter": _l("Charter"), "feedback": _l("Meeting feedback")}
RESPONSE_STATUSES = {"requested": _l("not started"), "draft": _l("draft saved"), "submitted": _l("submitted")}


@bp.context_processor
def _labels() -> dict:
    return {"form_kind_label": lambda code: FORM_KINDS.get(code, code),
            "response_status_label": lambda code: RESPONSE_STATUSES.get(code, code)}


def _request_or_404(community: Community, form_request_id: int) -> FormRequest:
    """The request if it belongs to this (visible) community; 404 for any other id."""
    form_request = form_requests.request_in(community, form_request_id)
    if form_request is None:
        abort(404)
    return form_request


def _deadline_utc(community: Community, form):
    """The form's local deadline as UTC; a time the clocks skip is blamed on the time field, a far date on the date."""
    try:
        return meetings.to_utc(community, form.deadline_date.data, form.deadline_time.data)
    except DomainError as error:
        raise DomainError(error.message, "deadline_date" if error.field == "start_date" else "deadline_time") from None


@bp.route("/")
@login_required
def index(community_id: int):
    community = community_or_404(community_id)
    return render_template("form_requests/index.html", community=community,
                           rows=form_requests.community_requests(community),
                           local=moments.writer(community.time_zone, str(get_locale())))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new(community_id: int):
    community = community_or_404(community_id)
    form = SendFormForm()
    active = meeting_queries.active_members(community)
    form.member_ids.choices = member_choices(active, members.names_in(community))
    candidates = form_requests.meetings_for_feedback(community)
    form.meeting_id.choices = choices([("", _("Choose a meeting"))] + [
        (str(m.id), f"{m.title} · {meeting_emails.when_text(m, str(get_locale()))}") for m in candidates])
    if form.validate_on_submit():
        meeting = meeting_queries.meeting_in(community, form.meeting_id.data) \
            if form.kind.data == "feedback" and form.meeting_id.data else None
        try:
            deadline_at = _deadline_utc(community, form)
            member_ids = [m.id for m in active] if form.send_to_all.data else form.member_ids.data
            form_request = form_requests.send_request(current_user, community, form.kind.data, form.title.data,
                                                      member_ids, deadline_at, meeting=meeting,
                                                      title_es=form.title_es.data, intro=form.intro.data,
                                                      intro_es=form.intro_es.data)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            sent = len(form_requests.responses(form_request))
            db.session.commit()
            flash(ngettext("Form sent. %(num)d email is on its way.",
                           "Form sent. %(num)d emails are on their way.", sent))
            return redirect(url_for("form_requests.show", community_id=community.id,
                                    form_request_id=form_request.id))
    return render_template("form_requests/new.html", form=form, community=community, has_meetings=bool(candidates),
                           readers=bilingual.readers(community)), \
        400 if form.errors else 200


@bp.route("/<int:form_request_id>")
@login_required
def show(community_id: int, form_request_id: int):
    community = community_or_404(community_id)
    form_request = _request_or_404(community, form_request_id)
    return _render_show(community, form_request, DeadlineForm())


def _render_show(community: Community, form_request: FormRequest, deadline_form: DeadlineForm, status: int = 200):
    rows = form_requests.responses(form_request)
    answers = {r.id: responses.answers_of(r) for r in rows if r.status == "submitted"}
    counts = {status: sum(1 for r in rows if r.status == status) for status in ("requested", "draft", "submitted")}
    return render_template("form_requests/show.html", community=community, form_request=form_request, rows=rows,
                           names=members.names_in(community),
                           answers=answers, counts=counts, questions=questions(form_request.kind),
                           deadline_form=deadline_form, is_open=responses.is_open(form_request),
                           nudge=nudges.for_form(form_request), nudge_form=ConfirmForm(),
                           reminder_due=form_requests.reminder_due(form_request) if form_request.deadline_at else None,
                           local=moments.writer(community.time_zone, str(get_locale()))), status


@bp.route("/<int:form_request_id>/nudge", methods=["POST"])
@login_required
def nudge(community_id: int, form_request_id: int):
    community = community_or_404(community_id)
    form_request = _request_or_404(community, form_request_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    nudged(lambda: nudges.nudge_form(current_user, form_request))
    return redirect(url_for("form_requests.show", community_id=community.id, form_request_id=form_request.id))


@bp.route("/<int:form_request_id>/deadline", methods=["POST"])
@login_required
def deadline(community_id: int, form_request_id: int):
    community = community_or_404(community_id)
    form_request = _request_or_404(community, form_request_id)
    form = DeadlineForm()
    if form.validate_on_submit():
        try:
            form_requests.change_deadline(current_user, form_request, _deadline_utc(community, form))
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("Deadline moved to %(when)s.", when=form_requests.deadline_text(form_request, str(get_locale()))))
            return redirect(url_for("form_requests.show", community_id=community.id,
                                    form_request_id=form_request.id))
    return _render_show(community, form_request, form, 400)
