"""Writing a message to a community: its text, whom it reaches, and when it goes."""
import uuid

from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, SelectMultipleField, StringField, SubmitField, TextAreaField, TimeField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from forms import Form
from forms.member import ConfirmForm


def _checkboxes(label, coerce=str):
    return SelectMultipleField(label, coerce=coerce, widget=ListWidget(prefix_label=False),
                               option_widget=CheckboxInput())


class AnnouncementForm(Form):
    # English and Spanish side by side; one language is enough (service.bilingual).
    subject = StringField(_l("Subject in English"), validators=[Length(max=150)])
    body = TextAreaField(_l("Message in English"), validators=[Length(max=20000)])
    subject_es = StringField(_l("Subject in Spanish"), validators=[Length(max=150)])
    body_es = TextAreaField(_l("Message in Spanish"), validators=[Length(max=20000)])
    # One value per opened form: a double click or a resubmission sends the message once.
    nonce = HiddenField(default=lambda: uuid.uuid4().hex)
    # Whom it reaches: nothing ticked in a group means no filter on it. The view fills the choices.
    organization_ids = _checkboxes(_l("Organizations"), coerce=int)
    roles = _checkboxes(_l("Roles"))
    languages = _checkboxes(_l("Languages"))
    # When it goes, in the community's time zone; both empty: now.
    send_date = DateField(_l("Send on"), validators=[Optional()])
    send_time = TimeField(_l("At"), validators=[Optional()])
    # The buttons; a post with none of them (a keyboard's Enter) sends now, as the form always did.
    preview = SubmitField(_l("Preview"))
    test = SubmitField(_l("Send a test to me"))
    schedule = SubmitField(_l("Schedule"))
    send = SubmitField(_l("Send now"))

    def validate(self, extra_validators=None) -> bool:
        """Scheduling needs both the day and the time (each field alone is optional)."""
        valid = super().validate(extra_validators)
        if self._scheduling() and (self.send_date.data is None or self.send_time.data is None):
            self.send_time.errors = list(self.send_time.errors) + [_l("Choose the day and the time it goes.")]
            return False
        return valid

    def _scheduling(self) -> bool:
        return bool(self.schedule.data)

    def chosen(self) -> dict:
        """The audience as the form has it (service.announcements.audience checks it)."""
        return {"organization_ids": self.organization_ids.data or [], "roles": self.roles.data or [],
                "languages": self.languages.data or []}


class ScheduledAnnouncementForm(AnnouncementForm):
    """Editing a scheduled message before it goes: its text, audience and time (its page previews it)."""
    nonce = None
    send = None
    preview = None
    schedule = SubmitField(_l("Save"))

    def _scheduling(self) -> bool:
        return True  # it keeps a time whatever the button


class CancelAnnouncementForm(ConfirmForm):
    """One button: the scheduled message will not go."""
