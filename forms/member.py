"""Adding and editing a member, and deactivating one."""
from flask_babel import lazy_gettext as _l

from forms import Form, choices
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length

LANGUAGE_CHOICES = [("en", _l("English")), ("es", _l("Spanish"))]
ROLE_CHOICES = [("member", _l("Member")), ("facilitator", _l("Facilitator")), ("leader", _l("Leader"))]
FREQUENCY_CHOICES = [("weekly", _l("Weekly")), ("biweekly", _l("Every two weeks")),
                     ("monthly", _l("Monthly")), ("never", _l("Never"))]


class MemberForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    organization = StringField(_l("Organization"), validators=[Length(max=200)])
    language = SelectField(_l("Language"), choices=choices(LANGUAGE_CHOICES), default="en")
    role = SelectField(_l("Role"), choices=choices(ROLE_CHOICES), default="member")


class NewMemberForm(MemberForm):
    send_welcome = BooleanField(_l("Send a welcome email that explains how the community works by email"),
                                default=True)


class MemberEditForm(MemberForm):
    digest_frequency = SelectField(_l("Lesson digests"), choices=choices(FREQUENCY_CHOICES), default="weekly")
    # Filled per community with its lesson's modules; a late joiner can start where the others are.
    next_module = SelectField(_l("Next lesson module in their digest"), coerce=int, choices=[], validate_choice=True)
    organization_contact = BooleanField(_l("Their organization's contact: receives its edition of each digest"))
    willing_to_facilitate = BooleanField(_l("Willing to facilitate meetings: in the facilitation rotation"))


class ConfirmForm(Form):
    """A form with nothing but its CSRF token, for one-button actions."""
