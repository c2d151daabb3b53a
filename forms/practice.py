"""Sharing a practice (members, from a digest link) and reviewing one (coordinators)."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from forms import Form
from forms.member import ConfirmForm

__all__ = ["ApproveForm", "DeclineForm", "PracticeEditForm", "PracticeForm"]


class PracticeForm(Form):
    title = StringField(_l("Title"), validators=[
        DataRequired(message=_l("Give your practice a short title.")), Length(max=200)])
    what_we_did = TextAreaField(_l("What we did"), validators=[
        DataRequired(message=_l("Tell us what you did.")), Length(max=5000)])
    what_happened = TextAreaField(_l("What happened"), validators=[Length(max=5000)])
    contact_ok = BooleanField(_l("Other members may contact us about this"))


class PracticeEditForm(PracticeForm):
    """The coordinator's correction; "save and approve" publishes it in the same step."""
    save = SubmitField(_l("Save changes"))
    save_and_approve = SubmitField(_l("Save and approve"))


class ApproveForm(ConfirmForm):
    """One button: approve the practice as it is."""


class DeclineForm(Form):
    reason = StringField(_l("Reason (optional, only coordinators see it)"), validators=[Length(max=500)])
