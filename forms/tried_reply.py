"""Trying a member's reply from the Outbox page (embedded mode)."""
from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from forms import Form


class TriedReplyForm(Form):
    text = TextAreaField(_l("The member's reply"), validators=[DataRequired(), Length(max=5000)])
