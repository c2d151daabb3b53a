"""A community's digest settings, and choosing whose digest to preview."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange

from forms import Form, choices
from forms.community import CADENCE_CHOICES

WEEKDAY_CHOICES = [(0, _l("Monday")), (1, _l("Tuesday")), (2, _l("Wednesday")), (3, _l("Thursday")),
                   (4, _l("Friday")), (5, _l("Saturday")), (6, _l("Sunday"))]


class DigestSettingsForm(Form):
    digest_enabled = BooleanField(_l("Send lesson digests"))
    lesson_id = SelectField(_l("Lesson"), coerce=int)
    digest_cadence = SelectField(_l("How often"), choices=choices(CADENCE_CHOICES))
    digest_weekday = SelectField(_l("Day"), coerce=int, choices=choices(WEEKDAY_CHOICES))
    digest_hour = IntegerField(_l("Hour (0-23, the community's local time)"),
                               validators=[InputRequired(), NumberRange(0, 23)])


class PreviewForm(Form):
    """Which member's copy to preview or send to myself as a test."""
    membership_id = SelectField(_l("As received by"), coerce=int)


class SendNowForm(Form):
    """The "Send the next issue now" button: only the CSRF token."""
