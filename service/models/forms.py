"""Forms members answer by signed link (charter, meeting feedback), intake entries, and the charter itself.

Answers are stored one row per question (FormAnswer), so summaries are
aggregated in SQL: counts per choice and averages per rating, whatever the
number of responses.
"""
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.clock import now
from service.models.base import TitleInTwoLanguages, Translated, created_at_column
from service.models.members import Member

FORM_KINDS = ("charter", "feedback")
RESPONSE_STATUSES = ("requested", "draft", "submitted")
INTAKE_STATUSES = ("pending", "accepted", "declined")
CHARTER_STATUSES = ("draft", "proposed", "ratified", "superseded")


class FormRequest(TitleInTwoLanguages, db.Model):
    """A form sent to chosen members of a community, with a deadline (feedback: one per meeting)."""
    __tablename__ = "form_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), unique=True)
    # English in the original column, Spanish in the *_es ones; either may be empty (service.bilingual).
    title_en: Mapped[str] = mapped_column("title", String(200))
    title_es: Mapped[str] = mapped_column(String(200), default="", server_default=text("''"))
    intro: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))  # plain text shown above the questions
    intro_es: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminder_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("coordinator.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()

    TRANSLATED = (Translated("title", "title_en", "title_es"), Translated("intro", "intro", "intro_es"))


class FormResponse(db.Model):
    """One member's answer to one request: requested, then a draft they can return to, then submitted."""
    __tablename__ = "form_response"
    __table_args__ = (UniqueConstraint("request_id", "member_id", name="uq_form_response_member"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("form_request.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)

    request: Mapped[FormRequest] = relationship()
    member: Mapped[Member] = relationship()
    answers: Mapped[list["FormAnswer"]] = relationship(back_populates="response", cascade="all, delete-orphan")


class FormAnswer(db.Model):
    """One question's answer: a number for ratings and choices, text for free answers."""
    __tablename__ = "form_answer"
    __table_args__ = (UniqueConstraint("response_id", "question", name="uq_form_answer_question"),
                      Index("ix_form_answer_question_value", "question", "value_int"))

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("form_response.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(64))
    value_int: Mapped[int | None]
    value_text: Mapped[str | None] = mapped_column(Text)

    response: Mapped[FormResponse] = relationship(back_populates="answers")


class IntakeEntry(db.Model):
    """Someone who filled in a community's public interest form; a coordinator accepts or declines."""
    __tablename__ = "intake_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    organization: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(200), default="")
    hopes: Mapped[str] = mapped_column(Text, default="")
    topics: Mapped[str] = mapped_column(Text, default="")
    availability: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(5), default="en")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class Charter(db.Model):
    """One version of a community's charter; members ratify a proposed version by link."""
    __tablename__ = "charter"
    __table_args__ = (UniqueConstraint("community_id", "version", name="uq_charter_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown
    body_html: Mapped[str] = mapped_column(Text, default="")   # rendered and sanitised when saved
    body_plain: Mapped[str] = mapped_column(Text, default="")  # as plain text, when saved
    # The Spanish text beside the English one above; either may be empty (service.bilingual).
    body_es: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    body_html_es: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    body_plain_es: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    proposed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ratified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When voting closes, and when those who had not answered were reminded (once).
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminder_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why the coordinator ratified it although the votes fell short of the community's rules.
    override_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()

    TRANSLATED = (Translated("body", "body", "body_es", (("body_html", "body_html", "body_html_es"),
                                                        ("body_plain", "body_plain", "body_plain_es"))),)


class CharterVote(db.Model):
    """A member's answer to a proposed charter: approve, or ask for a change with a comment."""
    __tablename__ = "charter_vote"
    __table_args__ = (UniqueConstraint("charter_id", "member_id", name="uq_charter_vote_member"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    charter_id: Mapped[int] = mapped_column(ForeignKey("charter.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(16))  # approve / change
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    member: Mapped[Member] = relationship()
