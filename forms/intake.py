"""The public interest (intake) form, and the coordinator's accept/decline buttons."""
from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from forms import Form, choices
from forms.member import ConfirmForm
from service.errors import DomainError
from service.normalize import email_address

__all__ = ["AcceptForm", "DeclineForm", "IntakeForm"]

LANGUAGE_CHOICES = [("en", "English"), ("es", "Español")]  # each in its own language, on purpose


class IntakeForm(Form):
    name = StringField(_l("Your name"), validators=[
        DataRequired(message=_l("Tell us your name.")), Length(max=200)])
    email = EmailField(_l("Email address"), validators=[
        DataRequired(message=_l("Tell us the email address where we can reach you.")), Length(max=254)])
    organization = StringField(_l("Organization"), validators=[
        DataRequired(message=_l("Tell us which organization you are with.")), Length(max=200)])
    role = StringField(_l("Your role there"), validators=[Length(max=200)])
    hopes = TextAreaField(_l("What do you hope to learn?"), validators=[Length(max=2000)])
    topics = TextAreaField(_l("Topics you would like to discuss"), validators=[Length(max=2000)])
    availability = TextAreaField(_l("When can you usually meet?"), validators=[Length(max=2000)])
    language = RadioField(_l("Language for our emails"), choices=choices(LANGUAGE_CHOICES), default="en",
                          validators=[DataRequired(message=_l("Choose English or Spanish."))])
    # Bots fill every field; people never see this one (hidden by CSS, skipped by keyboard and screen readers).
    website = StringField(_l("Leave this field empty"))
    rendered = HiddenField()

    def validate_email(self, field):
        try:
            field.data = email_address(field.data)
        except DomainError as error:
            raise ValidationError(error.message) from None


class AcceptForm(ConfirmForm):
    """One button: make the person a member and send the welcome email."""


class DeclineForm(ConfirmForm):
    """One button: decline the entry; nobody is emailed."""
