"""Writing a charter draft (the coordinator), its voting rules and ratification, and answering a proposed
charter (a member)."""
from flask_babel import lazy_gettext as _l
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from forms import Form
from forms.member import ConfirmForm
from service.charters import MAX_BODY, MAX_COMMENT, MAX_REASON

__all__ = ["CharterDeadlineForm", "CharterDraftForm", "CharterRulesForm", "CharterVoteForm", "ConfirmForm", "RatifyForm"]


class CharterDraftForm(Form):
    # Which button was pressed (save, preview, propose) comes with the form as name="action".
    # English and Spanish side by side; one language is enough to propose (service.bilingual).
    body = TextAreaField(_l("Charter text in English (Markdown)"), validators=[Length(max=MAX_BODY)])
    body_es = TextAreaField(_l("Charter text in Spanish (Markdown)"), validators=[Length(max=MAX_BODY)])
    # Needed only to propose (service.charter_rules.deadline_from_date says so next to the field).
    deadline = DateField(_l("Voting closes on"), validators=[Optional()])


class CharterRulesForm(Form):
    """Percentages as typed (50, 66.67); service.charter_rules.parse_percent checks them."""
    quorum = StringField(_l("Quorum: share of active members who must answer (%)"),
                         validators=[InputRequired(message=_l("Enter a percentage between 1 and 100, such as 50 "
                                                              "or 66.67.")), Length(max=20)])
    approval = StringField(_l("Approval: share of those answering who must approve (%)"),
                           validators=[InputRequired(message=_l("Enter a percentage between 1 and 100, such as 50 "
                                                                "or 66.67.")), Length(max=20)])


class CharterDeadlineForm(Form):
    deadline = DateField(_l("New closing day"),
                         validators=[InputRequired(message=_l("Enter the date, like 2026-03-17."))])


class RatifyForm(Form):
    reason = TextAreaField(_l("Reason to ratify below the rules"), validators=[Length(max=MAX_REASON)])


class CharterVoteForm(Form):
    # The decision comes from the button pressed (name="decision"): approve, or ask for a change.
    comment = TextAreaField(_l("What would you change? (needed to ask for a change)"),
                            validators=[Length(max=MAX_COMMENT)])
