"""Dashboard: reviewing a form's responses (summary with charts, table, text answers, CSV) and the feedback trend.

Filters arrive as GET parameters (organization, meeting) and only ever narrow
what this coordinator may already see; the meeting filter picks that meeting's
feedback request. Any id outside the coordinator's communities is a 404.
"""
from babel.numbers import format_decimal
from flask import Blueprint, Response, abort, redirect, render_template, request, stream_with_context, url_for
from flask_babel import get_locale, gettext as _, ngettext
from flask_login import login_required

from service import csv_export, form_requests, form_review, meeting_queries, moments, svg_charts
from service.models import Community, FormRequest
from service.questions import questions
from service.views.helpers import community_or_404

bp = Blueprint("form_review", __name__, url_prefix="/communities/<int:community_id>/forms/<int:request_id>/review")
trend_bp = Blueprint("feedback_trend", __name__, url_prefix="/communities/<int:community_id>/feedback-trend")


def _request_or_404(community: Community, request_id: int) -> FormRequest:
    form_request = form_requests.request_in(community, request_id)
    if form_request is None:
        abort(404)
    return form_request


def _filters(form_request: FormRequest) -> tuple[form_review.Filters, list]:
    """The organization filter from the query string, kept only if it is one of this form's organizations."""
    organizations = form_review.organizations(form_request)
    wanted = request.args.get("organization", type=int)
    chosen = wanted if any(org.id == wanted for org in organizations) else None
    return form_review.Filters(organization_id=chosen), organizations


def _other_meeting(community: Community, form_request: FormRequest):
    """A redirect to the same page of another meeting's feedback request, if the meeting filter chose one."""
    meeting_id = request.args.get("meeting", type=int)
    if not meeting_id or meeting_id == form_request.meeting_id:
        return None
    meeting = meeting_queries.meeting_in(community, meeting_id)
    other = form_requests.request_for_meeting(meeting) if meeting else None
    if other is None or other.kind != "feedback":
        return None
    args = {"organization": request.args["organization"]} if request.args.get("organization") else {}
    return redirect(url_for(request.endpoint, community_id=community.id, request_id=other.id, **args))


def _page() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _number(value) -> str:
    locale = str(get_locale())
    return format_decimal(value, format="#,##0.0", locale=locale) if isinstance(value, float) \
        else format_decimal(value, locale=locale)


def _context(community: Community, form_request: FormRequest, filters: form_review.Filters, organizations) -> dict:
    return {"community": community, "form_request": form_request, "filters": filters,
            "organizations": organizations, "rate": form_review.response_rate(form_request, filters),
            "meetings": form_review.feedback_requests(community) if form_request.kind == "feedback" else [],
            "org_args": {"organization": filters.organization_id} if filters.organization_id else {},
            "number": _number, "status_label": form_review.status_label,
            "when": moments.writer(community.time_zone, str(get_locale())), "day": lambda moment: _day(community, moment)}


def _day(community: Community, moment) -> str:
    """A meeting's day as text (in a select's option and a chart's labels, where no element may go)."""
    return moments.text(moment, community.time_zone, str(get_locale()), "day")


def _chart(item: form_review.QuestionSummary):
    def bar_title(value, count):
        return ngettext("%(value)s: %(num)d answer", "%(value)s: %(num)d answers", count, value=value)
    return svg_charts.bar_chart(item.counts, title=str(item.question.label), count_label=_number,
                                bar_title=bar_title)


@bp.route("/")
@login_required
def summary(community_id: int, request_id: int):
    community = community_or_404(community_id)
    form_request = _request_or_404(community, request_id)
    other = _other_meeting(community, form_request)
    if other is not None:
        return other
    filters, organizations = _filters(form_request)
    items = form_review.summary(form_request, filters)
    charts = {item.question.key: _chart(item) for item in items if item.question.kind == "rating"}
    return render_template("form_review/summary.html", items=items, charts=charts,
                           **_context(community, form_request, filters, organizations))


@bp.route("/table")
@login_required
def table(community_id: int, request_id: int):
    community = community_or_404(community_id)
    form_request = _request_or_404(community, request_id)
    other = _other_meeting(community, form_request)
    if other is not None:
        return other
    filters, organizations = _filters(form_request)
    page = _page()
    rows, total = form_review.table(form_request, filters, page=page)
    return render_template("form_review/table.html", rows=rows, total=total, page=page,
                           pages=form_review.page_count(total),
                           questions=questions(form_request.kind),
                           **_context(community, form_request, filters, organizations))


@bp.route("/answers/<key>")
@login_required
def answers(community_id: int, request_id: int, key: str):
    community = community_or_404(community_id)
    form_request = _request_or_404(community, request_id)
    question = next((q for q in questions(form_request.kind) if q.key == key and q.kind == "text"), None)
    if question is None:
        abort(404)
    filters, organizations = _filters(form_request)
    page = _page()
    total = form_review.text_answer_count(form_request, key, filters)
    rows = form_review.text_answers(form_request, key, filters, offset=(page - 1) * form_review.PAGE_SIZE)
    return render_template("form_review/answers.html", question=question, rows=rows, total=total,
                           page=page, pages=form_review.page_count(total),
                           **_context(community, form_request, filters, organizations))


@bp.route("/responses.csv")
@login_required
def csv_download(community_id: int, request_id: int):
    community = community_or_404(community_id)
    form_request = _request_or_404(community, request_id)
    filters, _organizations = _filters(form_request)
    chunks = (chunk.encode("utf-8") for chunk in csv_export.rows(form_request, community, filters))
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{csv_export.filename(form_request)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@trend_bp.route("/")
@login_required
def trend(community_id: int):
    community = community_or_404(community_id)
    points = form_review.feedback_trend(community)

    def label(point) -> str:
        return _day(community, point["starts_at"])

    charts = {}
    for key in form_review.TREND_QUESTIONS:
        question = next(q for q in questions("feedback") if q.key == key)
        charts[key] = svg_charts.line_chart(
            [(label(p), p[key]) for p in points], low=question.low, high=question.high,
            title=_("Mean answer per meeting: %(question)s", question=question.label), value_label=_number)
    return render_template("form_review/trend.html", community=community, points=points, charts=charts,
                           label=label, number=_number,
                           labels={q.key: q.label for q in questions("feedback")})
