"""Reviewing a form's answers: response rate, per-question summaries, the table of responses, the feedback trend.

Everything is aggregated in SQL (GROUP BY over form_answer), so a summary
costs a few queries whatever the number of responses. Only submitted
responses count in summaries; drafts stay the member's until they submit.
Member text is returned as stored: templates escape it, the CSV export
neutralises it.
"""
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, func, select

from service.extensions import db
from service.models import Community, FormAnswer, FormRequest, FormResponse, Meeting, Member, Membership, Organization
from service.questions import Question, questions

TEXT_PREVIEW = 10      # newest text answers shown per question on the summary page
PAGE_SIZE = 50         # rows per page of the table and of a question's text answers
TREND_QUESTIONS = ("usefulness", "recommend")
STATUSES = {"requested": _l("Not answered yet"), "draft": _l("Draft"), "submitted": _l("Submitted")}


@dataclass(frozen=True)
class Filters:
    """What the coordinator narrowed the review to (None: everyone)."""
    organization_id: int | None = None


@dataclass
class QuestionSummary:
    question: Question
    answered: int = 0
    counts: list[tuple[int, int]] = field(default_factory=list)   # ratings: (value, count) over the full scale
    mean: float | None = None                                    # ratings
    answers: list[dict] = field(default_factory=list)            # texts: newest first, at most TEXT_PREVIEW


def feedback_requests(community: Community) -> list[tuple[FormRequest, Meeting]]:
    """The community's feedback requests with their meetings, latest meeting first (the meeting filter)."""
    rows = db.session.execute(select(FormRequest, Meeting).join(Meeting, FormRequest.meeting_id == Meeting.id)
                              .where(FormRequest.community_id == community.id, FormRequest.kind == "feedback")
                              .order_by(Meeting.starts_at.desc(), Meeting.id.desc()))
    return [tuple(row) for row in rows]


def organizations(form_request: FormRequest) -> list[Organization]:
    """Organizations of the members this form was sent to, by name (the organization filter)."""
    ids = (select(Membership.organization_id).join(FormResponse, _respondent(form_request))
           .where(FormResponse.request_id == form_request.id))
    return list(db.session.scalars(select(Organization).where(Organization.id.in_(ids))
                                   .order_by(func.lower(Organization.name))))


def _responses(form_request: FormRequest, filters: Filters, submitted: bool = False) -> Select:
    """FormResponse ids of this request (submitted only if asked) narrowed by the filters."""
    query = select(FormResponse.id).where(FormResponse.request_id == form_request.id)
    if submitted:
        query = query.where(FormResponse.status == "submitted")
    if filters.organization_id is not None:
        query = query.join(Membership, _respondent(form_request)).where(
            Membership.organization_id == filters.organization_id)
    return query


def _respondent(form_request: FormRequest):
    """Joins a response to its member's membership in the request's community (their name and organization there)."""
    return and_(Membership.member_id == FormResponse.member_id, Membership.community_id == form_request.community_id)


def response_rate(form_request: FormRequest, filters: Filters = Filters()) -> dict:
    """{"requested", "submitted", "drafts", "rate"}: how many were asked, answered, started; rate None if nobody."""
    query = select(func.count(), func.count(case((FormResponse.status == "submitted", 1))),
                   func.count(case((FormResponse.status == "draft", 1)))).where(
        FormResponse.request_id == form_request.id)
    if filters.organization_id is not None:
        query = query.join(Membership, _respondent(form_request)).where(
            Membership.organization_id == filters.organization_id)
    requested, submitted, drafts = db.session.execute(query).one()
    return {"requested": requested, "submitted": submitted, "drafts": drafts,
            "rate": submitted / requested if requested else None}


def _answer_counts(form_request: FormRequest, filters: Filters) -> dict[str, dict]:
    """Per question: {value: count} for numbers and the number of non-empty texts, in one GROUP BY."""
    responses = _responses(form_request, filters, submitted=True).subquery()
    has_text = and_(FormAnswer.value_text.is_not(None), FormAnswer.value_text != "")
    rows = db.session.execute(
        select(FormAnswer.question, FormAnswer.value_int, func.count(), func.count(case((has_text, 1))))
        .join(responses, FormAnswer.response_id == responses.c.id)
        .group_by(FormAnswer.question, FormAnswer.value_int))
    result: dict[str, dict] = {}
    for key, value, count, texts in rows:
        entry = result.setdefault(key, {"values": {}, "texts": 0})
        if value is not None:
            entry["values"][value] = count
        entry["texts"] += texts
    return result


def _text_query(form_request: FormRequest, key: str, filters: Filters) -> Select:
    query = (select(FormAnswer.value_text, Membership.name, Organization.name, FormResponse.submitted_at,
                    FormResponse.id)
             .join(FormResponse, FormAnswer.response_id == FormResponse.id)
             .join(Membership, _respondent(form_request))
             .outerjoin(Organization, Membership.organization_id == Organization.id)
             .where(FormResponse.request_id == form_request.id, FormResponse.status == "submitted",
                    FormAnswer.question == key, FormAnswer.value_text.is_not(None), FormAnswer.value_text != ""))
    if filters.organization_id is not None:
        query = query.where(Membership.organization_id == filters.organization_id)
    return query


def text_answers(form_request: FormRequest, key: str, filters: Filters = Filters(), *, limit: int | None = None,
                 offset: int = 0) -> list[dict]:
    """One text question's answers with who wrote them, newest first."""
    limit = limit or PAGE_SIZE
    rows = db.session.execute(_text_query(form_request, key, filters)
                              .order_by(FormResponse.submitted_at.desc().nulls_last(), FormResponse.id.desc())
                              .limit(limit).offset(offset))
    return [{"text": text, "member": name, "organization": organization, "submitted_at": submitted_at}
            for text, name, organization, submitted_at, _id in rows]


def text_answer_count(form_request: FormRequest, key: str, filters: Filters = Filters()) -> int:
    """How many submitted responses answered one text question (what its pages of answers page through)."""
    return db.session.scalar(select(func.count()).select_from(_text_query(form_request, key, filters).subquery()))


def page_count(total: int) -> int:
    """Pages of PAGE_SIZE needed for `total` rows (one, even when there are none)."""
    return max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)


def newest_texts(form_request: FormRequest, keys: list[str], filters: Filters = Filters(),
                 limit: int = TEXT_PREVIEW) -> dict[str, list[dict]]:
    """The newest `limit` answers to each text question, walking the newest submitted responses in growing
    chunks (top-N on one table, then index lookups), instead of sorting every answer of every question."""
    found: dict[str, list[dict]] = {key: [] for key in keys}
    ordered = (_responses(form_request, filters, submitted=True)
               .add_columns(FormResponse.submitted_at)
               .order_by(FormResponse.submitted_at.desc().nulls_last(), FormResponse.id.desc()))
    offset, chunk = 0, max(limit * 5, 50)
    while keys and any(len(found[key]) < limit for key in keys):
        ids = db.session.scalars(ordered.with_only_columns(FormResponse.id).limit(chunk).offset(offset)).all()
        if not ids:
            break
        rows = db.session.execute(
            select(FormAnswer.response_id, FormAnswer.question, FormAnswer.value_text, Membership.name,
                   Organization.name, FormResponse.submitted_at)
            .join(FormResponse, FormAnswer.response_id == FormResponse.id)
            .join(Membership, _respondent(form_request))
            .outerjoin(Organization, Membership.organization_id == Organization.id)
            .where(FormAnswer.response_id.in_(ids), FormAnswer.question.in_(keys),
                   FormAnswer.value_text.is_not(None), FormAnswer.value_text != ""))
        position = {response_id: index for index, response_id in enumerate(ids)}
        for response_id, key, text, name, organization, submitted_at in sorted(rows, key=lambda r: position[r[0]]):
            if len(found[key]) < limit:
                found[key].append({"text": text, "member": name, "organization": organization,
                                   "submitted_at": submitted_at})
        offset, chunk = offset + chunk, chunk * 4
    return found


def summary(form_request: FormRequest, filters: Filters = Filters()) -> list[QuestionSummary]:
    """Per question of the form: ratings counted per value over the whole scale (zeros included) with
    their mean; texts with how many answered and the newest few."""
    counts = _answer_counts(form_request, filters)
    texts = newest_texts(form_request, [q.key for q in questions(form_request.kind)
                                        if q.kind == "text" and counts.get(q.key, {}).get("texts")], filters)
    result = []
    for question in questions(form_request.kind):
        entry = counts.get(question.key, {"values": {}, "texts": 0})
        item = QuestionSummary(question)
        if question.kind == "rating":
            item.counts = [(value, entry["values"].get(value, 0)) for value in question.scale]
            item.answered = sum(count for _value, count in item.counts)
            if item.answered:
                item.mean = sum(value * count for value, count in item.counts) / item.answered
        else:
            item.answered = entry["texts"]
            item.answers = texts.get(question.key, [])
        result.append(item)
    return result


def _table_query(form_request: FormRequest, filters: Filters) -> Select:
    query = (select(FormResponse.id, Membership.name, Member.email, Organization.name, FormResponse.status,
                    FormResponse.submitted_at)
             .join(Member, FormResponse.member_id == Member.id)
             .join(Membership, _respondent(form_request))
             .outerjoin(Organization, Membership.organization_id == Organization.id)
             .where(FormResponse.request_id == form_request.id))
    if filters.organization_id is not None:
        query = query.where(Membership.organization_id == filters.organization_id)
    return query


def _with_answers(rows) -> list[dict]:
    """Table rows (one per response) with their submitted answers as {question: int or text}."""
    table = [{"id": response_id, "member": name, "email": email, "organization": organization, "status": status,
              "submitted_at": submitted_at, "answers": {}}
             for response_id, name, email, organization, status, submitted_at in rows]
    submitted = {row["id"]: row for row in table if row["status"] == "submitted"}
    if submitted:
        answers = db.session.execute(select(FormAnswer.response_id, FormAnswer.question, FormAnswer.value_int,
                                            FormAnswer.value_text)
                                     .where(FormAnswer.response_id.in_(list(submitted))))
        for response_id, key, value, text in answers:
            submitted[response_id]["answers"][key] = value if value is not None else text
    return table


def table(form_request: FormRequest, filters: Filters = Filters(), *, page: int = 1,
          page_size: int | None = None) -> tuple[list[dict], int]:
    """(one page of responses, total): submitted ones newest first, then drafts and the unanswered by name."""
    page_size = page_size or PAGE_SIZE
    total = db.session.scalar(select(func.count()).select_from(_responses(form_request, filters).subquery()))
    order = (case((FormResponse.status == "submitted", 0), else_=1), FormResponse.submitted_at.desc().nulls_last(),
             func.lower(Membership.name), FormResponse.id)
    rows = db.session.execute(_table_query(form_request, filters).order_by(*order)
                              .limit(page_size).offset((max(page, 1) - 1) * page_size))
    return _with_answers(rows), total


def all_rows(form_request: FormRequest, filters: Filters = Filters(), batch: int = 1000):
    """Every response as a table row, by member name, read in batches (the CSV export streams these)."""
    last_key = None
    while True:
        query = _table_query(form_request, filters).order_by(FormResponse.id).limit(batch)
        if last_key is not None:
            query = query.where(FormResponse.id > last_key)
        rows = db.session.execute(query).all()
        if not rows:
            return
        yield from _with_answers(rows)
        last_key = rows[-1][0]


def feedback_trend(community: Community, filters: Filters = Filters()) -> list[dict]:
    """Per meeting with a feedback request, oldest first: the mean of each trend question and how many answered."""
    means = {key: func.avg(case((FormAnswer.question == key, FormAnswer.value_int))) for key in TREND_QUESTIONS}
    answered = and_(FormResponse.request_id == FormRequest.id, FormResponse.status == "submitted")
    if filters.organization_id is not None:
        answered = and_(answered, FormResponse.member_id.in_(
            select(Membership.member_id).where(Membership.community_id == community.id,
                                               Membership.organization_id == filters.organization_id)))
    query = (select(Meeting.id, Meeting.title, Meeting.starts_at, FormRequest.id,
                    func.count(func.distinct(FormResponse.id)), *means.values())
             .join(FormRequest, FormRequest.meeting_id == Meeting.id)
             .outerjoin(FormResponse, answered)
             .outerjoin(FormAnswer, and_(FormAnswer.response_id == FormResponse.id,
                                         FormAnswer.question.in_(TREND_QUESTIONS)))
             .where(FormRequest.community_id == community.id, FormRequest.kind == "feedback")
             .group_by(Meeting.id, Meeting.title, Meeting.starts_at, FormRequest.id)
             .order_by(Meeting.starts_at, Meeting.id))
    return [{"meeting_id": meeting_id, "title": title, "starts_at": starts_at, "request_id": request_id,
             "responses": responses,
             **{key: float(value) if value is not None else None for key, value in zip(TREND_QUESTIONS, values)}}
            for meeting_id, title, starts_at, request_id, responses, *values in db.session.execute(query)]


def status_label(status: str) -> str:
    return str(STATUSES.get(status, status))


def local_moment(moment: datetime | None, time_zone: str) -> datetime | None:
    """A stored UTC moment in the community's zone (SQLite hands back naive UTC)."""
    from zoneinfo import ZoneInfo
    from service.meetings import aware
    return aware(moment).astimezone(ZoneInfo(time_zone)) if moment is not None else None
