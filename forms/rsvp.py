"""A member's answer to a meeting invitation."""
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import Length

from forms import Form


class RsvpForm(Form):
    # The answer comes from the button pressed (name="answer"), so one tap is enough.
    note = StringField(_l("A note for the facilitator (optional)"), validators=[Length(max=500)])
