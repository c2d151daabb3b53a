"""Moderating a post that waits: its subject (approved with it, or saved alone), or declining it with a reason."""
from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from forms import Form


class ApproveForm(Form):
    """The post's subject as the members will read it; "Approve" publishes it, "Save the subject" only saves it."""
    subject = StringField(_l("Subject"), validators=[DataRequired(message=_l("A post needs a subject.")),
                                                     Length(max=200)])


class DeclineForm(Form):
    reason = TextAreaField(_l("Reason (its author reads it)"), validators=[
        DataRequired(message=_l("Say why the post is declined: its author reads the reason.")), Length(max=1000)])
