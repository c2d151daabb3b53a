"""Sending a form (charter, or feedback on a meeting) to chosen members with a deadline; moving the deadline.

Meeting and member choices are filled in by the view from the community, so a
posted id that is not on the list is refused before any domain call.
"""
from flask_babel import lazy_gettext as _l
from wtforms import (BooleanField, DateField, RadioField, SelectField, SelectMultipleField, StringField,
                     TextAreaField, TimeField)
from wtforms.validators import InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from forms import Form, choices

__all__ = ["DeadlineForm", "SendFormForm"]

KIND_CHOICES = (("charter", _l("Charter: each member's answers to the charter's sections")),
                ("feedback", _l("Feedback on a meeting")))


def _optional_id(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class DeadlineFields(Form):
    deadline_date = DateField(_l("Deadline date"),
                              validators=[InputRequired(message=_l("Enter the date, like 2026-03-17."))])
    deadline_time = TimeField(_l("Deadline time"), default=None,
                              validators=[InputRequired(message=_l("Enter the time, like 18:30."))])


class SendFormForm(DeadlineFields):
    kind = RadioField(_l("Which form"), choices=choices(KIND_CHOICES), default="charter",
                      validators=[InputRequired(message=_l("Choose which form to send."))])
    meeting_id = SelectField(_l("Meeting (for feedback)"), coerce=_optional_id, validators=[Optional()])
    # English and Spanish side by side; one language is enough (service.bilingual).
    title = StringField(_l("Title in English"), validators=[Length(max=200)])
    intro = TextAreaField(_l("Introduction in English"), validators=[Length(max=5000)])
    title_es = StringField(_l("Title in Spanish"), validators=[Length(max=200)])
    intro_es = TextAreaField(_l("Introduction in Spanish"), validators=[Length(max=5000)])
    send_to_all = BooleanField(_l("Send to every active member"), default=True)
    member_ids = SelectMultipleField(_l("Or send only to these members"), coerce=int,
                                     widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())

    def validate_meeting_id(self, field):
        if self.kind.data == "feedback" and field.data is None:
            raise ValidationError(_l("Choose the meeting the feedback is about."))

    def validate_title(self, field):
        if self.kind.data == "charter" and not (field.data or "").strip() \
                and not (self.title_es.data or "").strip():
            raise ValidationError(_l("Give the form a title, like “Our charter, first draft”."))

    def validate_member_ids(self, field):
        if not self.send_to_all.data and not field.data:
            raise ValidationError(_l("Choose at least one member, or tick “Send to every active member”."))


class DeadlineForm(DeadlineFields):
    """Move a request's deadline; the reminder follows it."""
