"""A member's answers to one form: read them, save a draft, submit, change them until the deadline.

Answers are one FormAnswer row per question, unique per response and
question; saving upserts them in one statement (and deletes those emptied),
so a resubmission changes the answer instead of adding another.
"""
from functools import lru_cache
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from service import audit, community_archive, members, normalize
from service.errors import DomainError
from service.extensions import db
from service.clock import aware, now
from service.members import KnownMember
from service.models import Community, FormAnswer, FormRequest, FormResponse, Member, Membership
from service.questions import questions
from service.sql import dialect_insert

TEXT_LIMIT = 5000


def is_open(request: FormRequest) -> bool:
    """Whether answers can still be saved: until the deadline (no deadline: always)."""
    return request.deadline_at is None or aware(request.deadline_at) > now()


class ResponsePage(NamedTuple):
    """What a member's form page shows: their response (its form request loaded), the member as the community
    knows them (service.members.known_in), and the community."""
    response: FormResponse
    member: KnownMember | Member
    community: Community


# Built once: constructing a select of four entities costs more than running it.
_RESPONSE_PAGE = (
    select(FormResponse, Member, Community, Membership.name, Membership.language)
    .join(FormResponse.request).options(contains_eager(FormResponse.request))
    .join(Member, Member.id == FormResponse.member_id)
    .join(Community, Community.id == FormRequest.community_id)
    .outerjoin(Membership, (Membership.community_id == Community.id) & (Membership.member_id == Member.id))
    .where(FormResponse.id == bindparam("response_id"), FormResponse.member_id == bindparam("member_id")))


def response_page(response_id: int, member_id: int) -> ResponsePage | None:
    """The member's response with what its page shows, in one query; None when the response is missing or
    someone else's."""
    row = db.session.execute(_RESPONSE_PAGE, {"response_id": response_id, "member_id": member_id}).first()
    if row is None:
        return None
    response, member, community, name, language = row
    known = {member.id: (name, language)} if name is not None else {}
    return ResponsePage(response, members.known_in(member, community, known), community)


_ANSWERS = select(FormAnswer.question, FormAnswer.value_int, FormAnswer.value_text).where(
    FormAnswer.response_id == bindparam("response_id"))


def answers_of(response: FormResponse) -> dict:
    """{question key: int for ratings, text for free answers} of what the member saved so far.

    A response still "requested" has none (only save() writes answers, and it makes the response a draft or
    submitted), so a member's first visit to their form reads nothing here.
    """
    if response.status == "requested":
        return {}
    rows = db.session.execute(_ANSWERS, {"response_id": response.id})
    return {question: number if number is not None else text for question, number, text in rows}


def _clean(question, value):
    """The value to store for one question (None when empty); DomainError when it is not acceptable."""
    if question.kind == "rating":
        if value in (None, ""):
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = None
        if number is None or number not in question.scale:
            raise DomainError(_("Choose a number from %(low)d to %(high)d.", low=question.low, high=question.high),
                              question.key)
        return number
    text = normalize.text(value, multiline=True)
    if len(text) > TEXT_LIMIT:
        raise DomainError(_("Please keep this answer under %(max)d characters.", max=TEXT_LIMIT), question.key)
    return text or None


def save(response: FormResponse, data: dict, submit: bool) -> FormResponse:
    """Save the member's answers as a draft, or submit them (required questions answered).

    Refused after the request's deadline; until then a submitted response can
    be changed by submitting again (it stays submitted).
    """
    request = response.request
    community_archive.refuse_if_archived(request.community_id)
    if not is_open(request):
        raise DomainError(_("The deadline for this form has passed, so answers can no longer be saved."))
    if response.status == "submitted" and not submit:
        raise DomainError(_("Your answers are already submitted. Press “Submit” to change them."))
    values = {q.key: _clean(q, data.get(q.key)) for q in questions(request.kind)}
    if submit:
        for question in questions(request.kind):
            if question.required and values[question.key] is None:
                raise DomainError(_("Please answer this question."), question.key)
    moment = now()
    changes = {"status": "submitted" if submit else "draft", "updated_at": moment}
    if submit:
        changes["submitted_at"] = moment
        audit.write(None, "form.resubmit" if response.status == "submitted" else "form.submit", "form_request",
                    request.id, request.community_id, member=response.member_id, response=response.id,
                    kind=request.kind)
    db.session.execute(_RESPONSE_UPDATE, {"response_id": response.id, **changes})
    for key, value in changes.items():  # what was just written, without marking the response changed
        set_committed_value(response, key, value)
    _store_answers(response.id, request.kind, values)
    db.session.expire(response, ["answers"])  # written without the ORM: reload them if anyone asks
    return response


# A response's status and times, written in one statement without the ORM's flush (its cost was most of a POST's
# database work in Python).
_RESPONSE_UPDATE = update(FormResponse.__table__).where(FormResponse.__table__.c.id == bindparam("response_id"))


def _store_answers(response_id: int, kind: str, values: dict) -> None:
    """One upsert for the answers given, one delete for those emptied: the same rows, changed in place."""
    kinds = {question.key: question.kind for question in questions(kind)}
    rows = [{"response_id": response_id, "question": key,
             "value_int": value if kinds[key] == "rating" else None,
             "value_text": None if kinds[key] == "rating" else value}
            for key, value in values.items() if value is not None]
    if rows:  # the statement is the same every time (built and compiled once); the rows go as its parameters
        db.session.execute(_answers_upsert(db.session.get_bind().dialect.name), rows)
    emptied = [key for key, value in values.items() if value is None]
    if emptied:
        db.session.execute(delete(FormAnswer).where(FormAnswer.response_id == response_id,
                                                    FormAnswer.question.in_(emptied)))


@lru_cache(maxsize=2)  # one per dialect
def _answers_upsert(_dialect: str):
    """The answers' upsert. Its RETURNING makes SQLAlchemy send all rows as one multi-row statement
    ("insertmanyvalues"; a multi-row .values() is not cached, so it would be compiled every time); without it
    psycopg sends a statement per row, and PostgreSQL runs the figures stamp's per-statement triggers for each."""
    insert = dialect_insert(FormAnswer.__table__)
    return insert.on_conflict_do_update(index_elements=["response_id", "question"], set_={
        "value_int": insert.excluded.value_int, "value_text": insert.excluded.value_text}).returning(
        FormAnswer.__table__.c.id)
