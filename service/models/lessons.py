"""Lessons (ordered modules, English and Spanish), digest issues, and practices members share."""
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.base import Translated, created_at_column
from service.models.members import Member, Membership

PRACTICE_STATUSES = ("pending", "approved", "declined")


class Lesson(db.Model):
    __tablename__ = "lesson"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title_en: Mapped[str] = mapped_column(String(200))
    title_es: Mapped[str] = mapped_column(String(200), default="")
    summary_en: Mapped[str] = mapped_column(Text, default="")
    summary_es: Mapped[str] = mapped_column(Text, default="")
    built_in: Mapped[bool] = mapped_column(default=False)  # loaded from files by `flask lessons load`
    created_at: Mapped[datetime] = created_at_column()

    modules: Mapped[list["LessonModule"]] = relationship(
        back_populates="lesson", order_by="LessonModule.position", cascade="all, delete-orphan")


class LessonModule(db.Model):
    """One module of a lesson; every text in English and Spanish (Markdown body)."""
    __tablename__ = "lesson_module"
    __table_args__ = (UniqueConstraint("lesson_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]                                  # 0, 1, 2 ... order in the lesson
    title_en: Mapped[str] = mapped_column(String(200))
    title_es: Mapped[str] = mapped_column(String(200), default="")
    goal_en: Mapped[str] = mapped_column(Text, default="")
    goal_es: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    body_es: Mapped[str] = mapped_column(Text, default="")
    body_html_en: Mapped[str] = mapped_column(Text, default="")   # the body rendered when saved (markdown_text)
    body_html_es: Mapped[str] = mapped_column(Text, default="")
    body_plain_en: Mapped[str] = mapped_column(Text, default="")  # ... and as plain text for the text part
    body_plain_es: Mapped[str] = mapped_column(Text, default="")
    reflection_en: Mapped[str] = mapped_column(Text, default="")
    reflection_es: Mapped[str] = mapped_column(Text, default="")
    practice_prompt_en: Mapped[str] = mapped_column(Text, default="")
    practice_prompt_es: Mapped[str] = mapped_column(Text, default="")

    lesson: Mapped[Lesson] = relationship(back_populates="modules")

    TRANSLATED = (Translated("title", "title_en", "title_es"), Translated("goal", "goal_en", "goal_es"),
                  Translated("body", "body_en", "body_es", (("body_html", "body_html_en", "body_html_es"),
                                                             ("body_plain", "body_plain_en", "body_plain_es"))),
                  Translated("reflection", "reflection_en", "reflection_es"),
                  Translated("practice_prompt", "practice_prompt_en", "practice_prompt_es"))

    def text(self, field: str, language: str) -> str:
        """The field in the language, falling back to English when no translation was written."""
        return getattr(self, f"{field}_{language}", "") or getattr(self, f"{field}_en")


class DigestIssue(db.Model):
    """One scheduled issue of a community's digest; unique per slot, so a second tick adds nothing."""
    __tablename__ = "digest_issue"
    __table_args__ = (UniqueConstraint("community_id", "number", name="uq_digest_issue_number"),
                      UniqueConstraint("community_id", "slot_at", name="uq_digest_issue_slot"))

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    slot_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the scheduled local slot, in UTC
    created_at: Mapped[datetime] = created_at_column()


class Practice(db.Model):
    """Something a member's organization tried, shared for others; published once a coordinator approves."""
    __tablename__ = "practice"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    what_we_did: Mapped[str] = mapped_column(Text)
    what_happened: Mapped[str] = mapped_column(Text, default="")
    contact_ok: Mapped[bool] = mapped_column(default=False)   # others may contact us about it
    source: Mapped[str] = mapped_column(String(16), default="web")  # web / email
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()

    member: Mapped[Member | None] = relationship()
    # The author as this practice's community knows them (their name and organization there).
    author: Mapped[Membership | None] = relationship(
        primaryjoin="and_(Practice.member_id == foreign(Membership.member_id), "
                    "Practice.community_id == foreign(Membership.community_id))",
        viewonly=True, uselist=False)
