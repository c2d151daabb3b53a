"""Writing a message to a whole community."""
import uuid

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from forms import Form


class AnnouncementForm(Form):
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=150)])
    body = TextAreaField(_l("Message"), validators=[DataRequired(), Length(max=20000)])
    # One value per opened form: a double click or a resubmission sends the message once.
    nonce = HiddenField(default=lambda: uuid.uuid4().hex)
