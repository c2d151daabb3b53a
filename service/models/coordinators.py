"""Coordinators: the staff (and later member leaders) who use the dashboard."""
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import db
from service.models.base import created_at_column


class Coordinator(UserMixin, db.Model):
    __tablename__ = "coordinator"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str] = mapped_column(String(5), default="en")
    active: Mapped[bool] = mapped_column(default=True)
    # Part of every session's login id; bumping it (logout, new password) ends every session signed before.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # How often the "needs you" summary is emailed: daily, weekly or never (service.needs_you).
    needs_summary: Mapped[str] = mapped_column(String(8), default="daily", server_default="daily")
    created_at: Mapped[datetime] = created_at_column()

    def get_id(self) -> str:  # what Flask-Login keeps in the session cookie
        return f"{self.id}.{self.session_version}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active
