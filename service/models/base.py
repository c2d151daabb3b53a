"""Column helpers shared by the models."""
from sqlalchemy import DateTime
from sqlalchemy.orm import mapped_column

from service.clock import now


def created_at_column():
    return mapped_column(DateTime(timezone=True), default=now, nullable=False)
