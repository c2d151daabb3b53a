"""A member's email preferences, reached from the link in every email's footer."""
from flask_babel import lazy_gettext as _l

from forms import Form, choices
from wtforms import BooleanField, HiddenField, RadioField, SelectMultipleField, StringField
from wtforms.validators import AnyOf, DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from forms.member import FREQUENCY_CHOICES
from service.conversations.choices import CHOICE_LABELS


class PreferencesForm(Form):
    name = StringField(_l("Your name, as every community's emails address you"),
                       validators=[DataRequired(), Length(max=200)])
    digest_frequency = RadioField(_l("How often do you want lesson digests?"), choices=choices(FREQUENCY_CHOICES))
    language = RadioField(_l("Language for emails and pages"), choices=choices([("en", "English"), ("es", "Español")]))
    paused = BooleanField(_l("Pause all emails for now"))
    # One box per community the person is active in (filled in by the view).
    facilitate = SelectMultipleField(_l("I am willing to facilitate meetings, in turn with others, in:"), coerce=int,
                                     widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    # The same communities again: ticking one stops its mail and keeps the others'.
    leave = SelectMultipleField(_l("Stop the emails of only these communities:"), coerce=int,
                                widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())


def conversations_field_name(membership) -> str:
    return f"conversations_{membership.id}"


def preferences_form(memberships, data: dict) -> PreferencesForm:
    """The form with, for each community the person is active in, their choice of its conversations (each
    labelled with the community's name); `data` gets each community's current choice."""
    class WithConversations(PreferencesForm):
        pass
    for membership in memberships:
        setattr(WithConversations, conversations_field_name(membership),
                RadioField(membership.community.name, choices=choices(CHOICE_LABELS.items())))
        data.setdefault(conversations_field_name(membership), membership.conversations)
    return WithConversations(data=data)


class MuteForm(Form):
    """One button: stop receiving a conversation, or receive it again."""
    conversation = HiddenField()
    action = HiddenField(validators=[AnyOf(["mute", "unmute"])])
