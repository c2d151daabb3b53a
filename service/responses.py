"""A member's answers to one form: read them, save a draft, submit, change them until the deadline.

Answers are one FormAnswer row per question; saving updates the row in
place (or removes it when the answer is emptied), so a resubmission changes
the answer instead of adding another.
"""

from flask_babel import gettext as _
from sqlalchemy import select

from service import audit
from service.errors import DomainError
from service.extensions import db
from service.clock import aware, now
from service.models import FormAnswer, FormRequest, FormResponse
from service.questions import questions

TEXT_LIMIT = 5000


def is_open(request: FormRequest) -> bool:
    """Whether answers can still be saved: until the deadline (no deadline: always)."""
    return request.deadline_at is None or aware(request.deadline_at) > now()


def answers_of(response: FormResponse) -> dict:
    """{question key: int for ratings, text for free answers} of what the member saved so far."""
    rows = db.session.scalars(select(FormAnswer).where(FormAnswer.response_id == response.id))
    return {row.question: row.value_int if row.value_int is not None else row.value_text for row in rows}


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
    text = (value or "").replace("\x00", "").replace("\r\n", "\n").strip()
    if len(text) > TEXT_LIMIT:
        raise DomainError(_("Please keep this answer under %(max)d characters.", max=TEXT_LIMIT), question.key)
    return text or None


def save(response: FormResponse, data: dict, submit: bool) -> FormResponse:
    """Save the member's answers as a draft, or submit them (required questions answered).

    Refused after the request's deadline; until then a submitted response can
    be changed by submitting again (it stays submitted).
    """
    request = response.request
    if not is_open(request):
        raise DomainError(_("The deadline for this form has passed, so answers can no longer be saved."))
    if response.status == "submitted" and not submit:
        raise DomainError(_("Your answers are already submitted. Press “Submit” to change them."))
    values = {q.key: _clean(q, data.get(q.key)) for q in questions(request.kind)}
    if submit:
        for question in questions(request.kind):
            if question.required and values[question.key] is None:
                raise DomainError(_("Please answer this question."), question.key)
    existing = {row.question: row for row in db.session.scalars(
        select(FormAnswer).where(FormAnswer.response_id == response.id))}
    for question in questions(request.kind):
        value, row = values[question.key], existing.get(question.key)
        if value is None:
            if row is not None:
                db.session.delete(row)
            continue
        if row is None:
            row = FormAnswer(response_id=response.id, question=question.key)
            db.session.add(row)
        if question.kind == "rating":
            row.value_int, row.value_text = value, None
        else:
            row.value_int, row.value_text = None, value
    response.updated_at = now()
    if submit:
        resubmitted = response.status == "submitted"
        response.status, response.submitted_at = "submitted", now()
        audit.record(None, "form.resubmit" if resubmitted else "form.submit", "form_request", request.id,
                     request.community_id, member=response.member_id, response=response.id, kind=request.kind)
    else:
        response.status = "draft"
    db.session.flush()
    db.session.expire(response, ["answers"])
    return response
