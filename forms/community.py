"""Creating and editing a community."""
from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from forms import choices
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

STAGE_CHOICES = [("forming", _l("Forming")), ("defining", _l("Defining its work")),
                 ("managing", _l("Managing")), ("sustaining", _l("Sustaining"))]
CADENCE_CHOICES = [("weekly", _l("Weekly")), ("biweekly", _l("Every two weeks")), ("monthly", _l("Monthly"))]
_ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


class CommunityForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("What brings these organizations together"), validators=[Length(max=2000)])
    time_zone = SelectField(_l("Time zone"), choices=choices((z, z) for z in _ZONES), default="America/Chicago")
    stage = SelectField(_l("Stage"), choices=choices(STAGE_CHOICES), default="forming")
    digest_cadence = SelectField(_l("Lesson digest cadence"), choices=choices(CADENCE_CHOICES), default="biweekly")
