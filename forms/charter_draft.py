"""Writing a charter draft (the coordinator) and answering a proposed charter (a member)."""
from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import Length

from forms import Form
from forms.member import ConfirmForm
from service.charters import MAX_BODY, MAX_COMMENT

__all__ = ["CharterDraftForm", "CharterVoteForm", "ConfirmForm"]


class CharterDraftForm(Form):
    # Which button was pressed (save, preview, propose) comes with the form as name="action".
    body = TextAreaField(_l("Charter text (Markdown)"), validators=[Length(max=MAX_BODY)])


class CharterVoteForm(Form):
    # The decision comes from the button pressed (name="decision"): approve, or ask for a change.
    comment = TextAreaField(_l("What would you change? (needed to ask for a change)"),
                            validators=[Length(max=MAX_COMMENT)])
