"""One WTForms class per member form, built from service/questions.py: radio buttons for ratings, text areas for text.

Two buttons: "Save draft" keeps whatever is there (required questions may
still be empty) and "Submit" insists on the required ones. Every other check
(a rating on the scale, a length limit) applies to both.
"""
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SubmitField, TextAreaField
from wtforms.validators import Length, StopValidation

from forms import Form, choices

TEXT_LIMIT = 5000


class RequiredOnSubmit:
    """Required when the member presses Submit; on "Save draft" (or for an optional question,
    message None) an empty answer is fine and no other check runs."""

    def __init__(self, message=None):
        self.message = message
        self.field_flags = {}

    def __call__(self, form, field):
        empty = field.data is None or (isinstance(field.data, str) and not field.data.strip())
        if not empty:
            return
        field.errors[:] = []
        if self.message is not None and form.is_submit():
            raise StopValidation(self.message)
        raise StopValidation()


def _rating(value):
    """A radio's value as a whole number; None when nothing is chosen."""
    if value in (None, "", "None"):
        return None
    return int(value)


class AnswerForm(Form):
    """What every member form shares: the two buttons. Submit comes first, so Enter submits."""
    submit = SubmitField(_l("Submit"))
    save_draft = SubmitField(_l("Save draft"))

    def is_submit(self) -> bool:
        """Only an explicit "Save draft" saves a draft; Enter in a field presses the first button, Submit."""
        return not self.save_draft.data

    def answers(self) -> dict:
        """The answers keyed by question, as service.responses.save takes them."""
        return {q.key: self[q.key].data for q in self.QUESTIONS}


def _field(question):
    if question.kind == "rating":
        message = _l("Choose a number from %(low)d to %(high)d.", low=question.low, high=question.high)
        return RadioField(question.label, coerce=_rating,
                          choices=choices((str(n), str(n)) for n in question.scale),
                          validators=[RequiredOnSubmit(message if question.required else None)])
    return TextAreaField(question.label, validators=[
        RequiredOnSubmit(_l("Please answer this question.") if question.required else None),
        Length(max=TEXT_LIMIT, message=_l("Please keep this answer under %(max)d characters.", max=TEXT_LIMIT))])


def form_class(name: str, questions) -> type[AnswerForm]:
    """A form class with one field per question, in the questions' order."""
    attributes = {q.key: _field(q) for q in questions}
    attributes["QUESTIONS"] = tuple(questions)
    return type(name, (AnswerForm,), attributes)
