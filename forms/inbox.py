"""A coordinator's action on a received message (the inbox): which button, which meeting, who wrote it."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, IntegerField
from wtforms.validators import AnyOf, NumberRange, Optional

from forms import Form
from service.inbound.inbox import ACTIONS
from service.normalize import MAX_ID


class InboxActionForm(Form):
    # The pressed button's value: one form per message, one button per action.
    action = HiddenField(validators=[AnyOf(ACTIONS)])
    meeting_id = IntegerField(_l("Meeting"), validators=[Optional(), NumberRange(1, MAX_ID)])
    sender_confirmed = BooleanField()
    back = HiddenField(validators=[Optional(), AnyOf(("list", "message"))])
