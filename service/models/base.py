"""Column helpers shared by the models."""
from dataclasses import dataclass

from sqlalchemy import DateTime, func
from sqlalchemy.ext.hybrid import hybrid_property
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


class TitleInTwoLanguages:
    """`title` for a model with `title_en` and `title_es` columns: the English one, or the Spanish one when only
    that was written (read, set as English, and queried in SQL alike)."""

    @hybrid_property
    def title(self) -> str:
        """The title the dashboard shows: the English one, or the Spanish one when only that was written."""
        return self.title_en or self.title_es

    @title.inplace.setter
    def _title_setter(self, value: str) -> None:
        self.title_en = value

    @title.inplace.expression
    @classmethod
    def _title_expression(cls):
        return func.coalesce(func.nullif(cls.title_en, ""), cls.title_es)
