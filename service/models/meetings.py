"""Meetings of a community, who is invited and what they answered, and their reminders."""
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.clock import now
from service.models.base import TitleInTwoLanguages, Translated, created_at_column
from service.models.communities import Community
from service.models.members import Member

MEETING_STATUSES = ("scheduled", "cancelled")
SERIES_FREQUENCIES = ("weekly", "biweekly", "monthly")
SERIES_INVITATIONS = ("each", "series")  # an invitation per occurrence, or one for the series (RRULE)


class MeetingSeries(db.Model):
    """Meetings that recur: each occurrence is a Meeting of its own (series_id), created ahead.

    The rule is kept as the coordinator chose it, so the series invitation's
    RRULE can be written again; `occurrences` is how many meetings the rule
    covers now (fewer once the rest of the series is cancelled).
    """
    __tablename__ = "meeting_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    uid: Mapped[str] = mapped_column(String(255), unique=True)  # the series' iCalendar UID
    sequence: Mapped[int] = mapped_column(default=0)            # its SEQUENCE, +1 per change to the series
    frequency: Mapped[str] = mapped_column(String(16))         # weekly / biweekly / monthly
    weekday_ordinal: Mapped[int | None]                         # monthly: 1..4, or -1 for the last
    time_zone: Mapped[str] = mapped_column(String(64))          # the zone whose local hour the rule keeps
    occurrences: Mapped[int]
    until_day: Mapped[date | None] = mapped_column(Date)        # the end the coordinator gave, when a date
    invitation: Mapped[str] = mapped_column(String(16), default="each")
    created_at: Mapped[datetime] = created_at_column()
RSVP_ANSWERS = ("yes", "maybe", "no")


class Meeting(TitleInTwoLanguages, db.Model):
    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    uid: Mapped[str] = mapped_column(String(255), unique=True)  # iCalendar UID, stable across updates
    sequence: Mapped[int] = mapped_column(default=0)            # iCalendar SEQUENCE, +1 per change
    # English in the original columns, Spanish in the *_es ones; either may be empty (service.bilingual).
    title_en: Mapped[str] = mapped_column("title", String(200))
    title_es: Mapped[str] = mapped_column(String(200), default="", server_default=text("''"))
    agenda: Mapped[str] = mapped_column(Text, default="")        # Markdown
    agenda_html: Mapped[str] = mapped_column(Text, default="")   # rendered and sanitised when saved
    agenda_plain: Mapped[str] = mapped_column(Text, default="")  # as plain text, when saved
    agenda_es: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    agenda_html_es: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    agenda_plain_es: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)  # UTC
    duration_minutes: Mapped[int] = mapped_column(default=60)
    location: Mapped[str] = mapped_column(String(300), default="")
    video_url: Mapped[str] = mapped_column(String(500), default="")
    facilitator_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    facilitator_told_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    attendance_taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    feedback_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    feedback_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # One occurrence of a recurring series, and the start the series' rule gave it (its RECURRENCE-ID).
    series_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_series.id", ondelete="SET NULL"), index=True)
    series_starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)

    community: Mapped[Community] = relationship()
    facilitator: Mapped[Member | None] = relationship()
    series: Mapped[MeetingSeries | None] = relationship()

    TRANSLATED = (Translated("title", "title_en", "title_es"),
                  Translated("agenda", "agenda", "agenda_es", (("agenda_html", "agenda_html", "agenda_html_es"),
                                                                ("agenda_plain", "agenda_plain", "agenda_plain_es"))))


class Invitation(db.Model):
    """One member invited to one meeting, their answer and whether they came."""
    __tablename__ = "invitation"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str | None] = mapped_column(String(8))  # yes / maybe / no, None before answering
    note: Mapped[str] = mapped_column(String(500), default="")
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attended: Mapped[bool | None]
    created_at: Mapped[datetime] = created_at_column()

    meeting: Mapped[Meeting] = relationship()
    member: Mapped[Member] = relationship()


class Reminder(db.Model):
    """A reminder of a meeting, `offset_minutes` before it; one RQ job fans it out to the invitees."""
    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("meeting_id", "offset_minutes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    offset_minutes: Mapped[int]
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled / sent / cancelled / missed
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
