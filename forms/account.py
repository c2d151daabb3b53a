"""The account's own settings: how often its "needs you" summary is emailed."""
from flask_babel import lazy_gettext as _l
from wtforms import RadioField

from forms import Form, choices
from service.needs_you import FREQUENCY_LABELS


class NeedsSummaryForm(Form):
    frequency = RadioField(_l("Email me what needs me"), choices=choices(FREQUENCY_LABELS.items()),
                           validate_choice=True)
