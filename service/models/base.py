"""Column helpers shared by the models."""
from dataclasses import dataclass

from sqlalchemy import DateTime
from sqlalchemy.orm import mapped_column

from service.clock import now


def created_at_column():
    return mapped_column(DateTime(timezone=True), default=now, nullable=False)


@dataclass(frozen=True)
class Translated:
    """A text a coordinator writes in English and Spanish (service.bilingual): the attribute holding each
    language's source, and the attributes derived from it when saved, as (name the reader sees, English
    attribute, Spanish attribute)."""
    name: str
    english: str
    spanish: str
    derived: tuple[tuple[str, str, str], ...] = ()
