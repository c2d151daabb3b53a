"""Inviting a person to run a community, changing their role, and the TTA coordinator stepping back."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from forms import Form, choices
from forms.member import LANGUAGE_CHOICES

INVITE_ROLE_CHOICES = [("leader", _l("Leader: a member who runs the community")),
                       ("coordinator", _l("Coordinator: TTA staff"))]
ROLE_CHOICES = [("coordinator", _l("Coordinator")), ("leader", _l("Leader")),
                ("observer", _l("Observer (read-only)"))]


class InviteForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), choices=choices(INVITE_ROLE_CHOICES), default="leader")
    language = SelectField(_l("Language of the invitation"), choices=choices(LANGUAGE_CHOICES), default="en")


class RoleForm(Form):
    role = SelectField(_l("Role"), choices=choices(ROLE_CHOICES))


class StepBackForm(Form):
    keep_read_only = BooleanField(_l("The leaders agreed that I keep read-only access"))
