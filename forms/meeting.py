"""Scheduling and editing a meeting, inviting more members, taking attendance, cancelling.

Member choices are filled in by the view from the community's members, so a
posted id that is not on the list is refused before any domain call.
"""
from flask_babel import lazy_gettext as _l

from forms import Form, choices
from forms.member import ConfirmForm
from wtforms import (BooleanField, DateField, IntegerField, RadioField, SelectField, SelectMultipleField, StringField,
                     SubmitField, TextAreaField, TimeField, URLField)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

__all__ = ["AttendanceForm", "CancelForm", "InviteForm", "MeetingEditForm", "MeetingForm", "member_choices"]


def _optional_id(value):
    """A select's value as a member id, or None for "nobody"."""
    if value in (None, "", "None"):
        return None
    return int(value)


def member_choices(members, names: dict[int, str], blank: str | None = None) -> list:
    """(id, "Name <email>") options for members, named as `names` (the community's) has them,
    optionally led by a blank "nobody" option."""
    pairs = [("", blank)] if blank is not None else []
    return choices(pairs + [(str(m.id), f"{names[m.id]} <{m.email}>") for m in members])


class MeetingForm(Form):
    # English and Spanish side by side; a title in one of them is enough (service.bilingual).
    title = StringField(_l("Title in English"), validators=[Length(max=200)])
    agenda = TextAreaField(_l("Agenda in English"), validators=[Length(max=20000)])
    title_es = StringField(_l("Title in Spanish"), validators=[Length(max=200)])
    agenda_es = TextAreaField(_l("Agenda in Spanish"), validators=[Length(max=20000)])
    start_date = DateField(_l("Date"), validators=[InputRequired(message=_l("Enter the date, like 2026-03-17."))])
    start_time = TimeField(_l("Start time"), validators=[InputRequired(message=_l("Enter the time, like 18:30."))])
    duration_minutes = IntegerField(_l("Duration (minutes)"), default=60,
                                    validators=[InputRequired(), NumberRange(min=5, max=24 * 60)])
    location = StringField(_l("Place"), validators=[Length(max=300)])
    video_url = URLField(_l("Video link"), validators=[Optional(), Length(max=500)])
    facilitator_id = SelectField(_l("Facilitator"), coerce=_optional_id, validators=[Optional()])
    invite_all = BooleanField(_l("Invite every active member"), default=True)
    member_ids = SelectMultipleField(_l("Or invite only these members"), coerce=int,
                                     widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())

    def validate_member_ids(self, field):
        if not self.invite_all.data and not field.data:
            raise ValidationError(_l("Choose at least one member, or tick “Invite every active member”."))


    # Recurrence (service.meeting_series): how often, until when, and how members are invited.
    repeat = SelectField(_l("Repeats"), default="", choices=choices([
        ("", _l("Does not repeat")), ("weekly", _l("Every week")), ("biweekly", _l("Every two weeks")),
        ("monthly", _l("Every month, on the same weekday (such as the second Tuesday)"))]))
    ends = RadioField(_l("The series ends"), default="count", choices=choices([
        ("count", _l("After a number of meetings")), ("until", _l("On a date"))]))
    count = IntegerField(_l("Number of meetings"), default=6, validators=[Optional(), NumberRange(min=2, max=52)])
    until = DateField(_l("Last day"), validators=[Optional()])
    invitation = RadioField(_l("Invitations"), default="series", choices=choices([
        ("series", _l("One invitation for the whole series: a single recurring calendar event, and an answer "
                      "counts for every meeting")),
        ("each", _l("An invitation for each meeting: each its own calendar event and its own answer"))]))

    def series_end(self) -> dict:
        """The end the coordinator chose, as service.meeting_series.create_series takes it."""
        if self.ends.data == "until":
            return {"until": self.until.data, "count": None}
        return {"count": self.count.data, "until": None}


class MeetingEditForm(MeetingForm):
    """The same details; who is invited is changed on the meeting page. A meeting of a series also says whether
    the change is for it alone or for it and the following ones (the view drops `scope` otherwise)."""
    invite_all = None
    member_ids = None
    repeat = ends = count = until = invitation = None
    scope = RadioField(_l("Change"), default="this", choices=choices([
        ("this", _l("This meeting only")), ("following", _l("This meeting and the following ones of the series"))]))


class InviteForm(Form):
    member_ids = SelectMultipleField(_l("Members not invited yet"), coerce=int,
                                     widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
                                     validators=[DataRequired(message=_l("Choose at least one member to invite."))])


class AttendanceForm(Form):
    attended = SelectMultipleField(_l("Who came"), coerce=int,
                                   widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    save = SubmitField(_l("Save attendance"))
    all_yes = SubmitField(_l("Mark everyone who said Yes"))


class CancelForm(ConfirmForm):
    """One button: cancel the meeting and tell every invitee."""
