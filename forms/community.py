"""Creating and editing a community."""
from flask_babel import get_locale, lazy_gettext as _l

from forms import Form, choices
from service import time_zones
from service.conversations.attachments import MAX_LIMIT_KB
from service.models.communities import STAGES
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional

STAGE_CHOICES = [("forming", _l("Forming")), ("defining", _l("Defining its work")),
                 ("managing", _l("Managing")), ("sustaining", _l("Sustaining"))]
CADENCE_CHOICES = [("weekly", _l("Weekly")), ("biweekly", _l("Every two weeks")), ("monthly", _l("Monthly"))]
# Conversations: each choice says in full what it does (the form shows them as radio buttons).
MODERATION_CHOICES = [
    ("new", _l("A new member's posts wait until a moderator approves one; after that, theirs go out at once")),
    ("all", _l("Every post waits for a moderator")),
    ("none", _l("No post waits: every member's post goes out at once"))]
REPLIES_TO_CHOICES = [
    ("community", _l("To the whole community: everyone who reads the conversations receives the reply")),
    ("author", _l("To the post's author only; reply-all still reaches the whole community"))]


class OffsetsField(StringField):
    """Reminder offsets typed as "1440, 60"; a stored list is shown the same way."""

    def process_data(self, value):
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        super().process_data(value)


class CommunityForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("What brings these organizations together"), validators=[Length(max=2000)])
    time_zone = SelectField(_l("Time zone"), default="America/Chicago")  # choices: current zones, by region
    stage = SelectField(_l("Stage"), choices=choices(STAGE_CHOICES), default="forming")
    digest_cadence = SelectField(_l("Lesson digest cadence"), choices=choices(CADENCE_CHOICES), default="biweekly")
    reminder_offsets = OffsetsField(_l("Reminders, in minutes before each meeting"), validators=[Length(max=100)])
    feedback_delay_hours = IntegerField(_l("Hours after a meeting to ask attendees for feedback"), default=2,
                                        validators=[Optional(), NumberRange(min=0, max=168)])
    moderation = RadioField(_l("Which posts wait for a moderator"), choices=choices(MODERATION_CHOICES),
                            default="new")
    replies_to = RadioField(_l("Where a reply to a post goes"), choices=choices(REPLIES_TO_CHOICES),
                            default="community")
    max_attachment_kb = MAX_LIMIT_KB
    attachment_limit_kb = IntegerField(_l("Largest attachment a post may carry, in KB"), default=2048,
                                       validators=[Optional(), NumberRange(min=0, max=MAX_LIMIT_KB)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = getattr(kwargs.get("obj"), "time_zone", None)
        self.time_zone.choices = time_zones.choices(str(get_locale() or "en"), keep=current)


class StageForm(Form):
    """The coordinator confirms the stage the community's data suggests (a hidden field and the CSRF token)."""
    stage = HiddenField(validators=[AnyOf(STAGES)])
