"""Writing a message to a whole community."""
import uuid

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Length

from forms import Form


class AnnouncementForm(Form):
    # English and Spanish side by side; one language is enough (service.bilingual).
    subject = StringField(_l("Subject in English"), validators=[Length(max=150)])
    body = TextAreaField(_l("Message in English"), validators=[Length(max=20000)])
    subject_es = StringField(_l("Subject in Spanish"), validators=[Length(max=150)])
    body_es = TextAreaField(_l("Message in Spanish"), validators=[Length(max=20000)])
    # One value per opened form: a double click or a resubmission sends the message once.
    nonce = HiddenField(default=lambda: uuid.uuid4().hex)
