"""What a coordinator writes for members, in English and Spanish: picking the reader's text, with a fallback.

Every kind of member-facing text (an announcement's subject and body, a
meeting's title and agenda, a form's title and introduction, the charter, a
lesson module) is kept the same way:

- the original column (`title`, `agenda`, `body`) is the English text, as it
  always was, so rows written before both languages existed read as English;
  a `*_es` column beside it holds the Spanish text, and a column derived when
  saved (an agenda's HTML and plain text) has its Spanish twin too;
- either language may be left empty, not both: a community that reads only
  Spanish writes only Spanish;
- a reader gets their language; when it was not written they get the other,
  and `written_in` says which, so the email or page can say "This message
  was written in English only".

Columns rather than a JSON of translations: the texts are searched (the
Outbox finds a meeting by either title), rendered once when saved, and typed
like the columns beside them. A model lists its texts in `TRANSLATED`
(models.base.Translated); `InLanguage` shows any such row to one reader, so
no kind has a copy of the rule.
"""
from dataclasses import dataclass

from flask_babel import gettext as _, ngettext
from sqlalchemy import func, select

from service import members
from service.errors import DomainError
from service.extensions import db
from service.models import Community, Membership

LANGUAGES = ("en", "es")
# Each language named in itself, as the compose pages head their two columns.
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


@dataclass(frozen=True)
class Picked:
    text: str
    language: str | None  # the language `text` is written in; None when neither was written
    written_in: str | None  # that language when it is not the reader's (a fallback), else None


def pick(english: str | None, spanish: str | None, language: str) -> Picked:
    """The text for a reader of `language`: theirs when written, else the other language's, saying so."""
    texts = {"en": english or "", "es": spanish or ""}
    wanted = "es" if language == "es" else "en"
    for candidate in (wanted, "en" if wanted == "es" else "es"):
        if texts[candidate].strip():
            return Picked(texts[candidate], candidate, None if candidate == wanted else candidate)
    return Picked("", None, None)


class InLanguage:
    """A row as one reader sees it: each of its TRANSLATED texts in their language (or the other when theirs
    was not written), every other attribute the row's own. `written_in` is set when any text fell back."""

    def __init__(self, row, language: str):
        self._row = row
        self.language = language
        self._texts: dict[str, str] = {}
        self.written_in: str | None = None
        for text in type(row).TRANSLATED:
            picked = pick(getattr(row, text.english), getattr(row, text.spanish), language)
            self._texts[text.name] = picked.text
            for name, english, spanish in text.derived:
                self._texts[name] = getattr(row, spanish if picked.language == "es" else english) or ""
            self.written_in = self.written_in or picked.written_in

    def __getattr__(self, name: str):
        texts = self.__dict__.get("_texts", {})
        if name in texts:
            return texts[name]
        return getattr(self.__dict__["_row"], name)


def for_member(row, member, community) -> InLanguage:
    """The row in the language `community` has for the member (a page they open from its email)."""
    return InLanguage(row, members.known_in(member, community).language)


def pick_context(context: dict, language: str) -> dict:
    """From an outbox row's context (an announcement keeps its texts there), each `X` that has an `X_es`
    beside it as the reader's text, and `written_in` when one fell back."""
    picked, written_in = {}, None
    for name in list(context):
        if f"{name}_es" in context:
            choice = pick(context[name], context[f"{name}_es"], language)
            picked[name] = choice.text
            written_in = written_in or choice.written_in
    return {**picked, "written_in": written_in}


def require_one(english: str, spanish: str, field: str, message) -> None:
    """Refuse a text written in neither language (the error is shown on the English field)."""
    if not (english or "").strip() and not (spanish or "").strip():
        raise DomainError(str(message), field)


def readers(community) -> dict[str, int]:
    """How many active members of the community read each language, from their memberships: {"en": 18, "es": 12}."""
    return _readers(Membership.community_id == community.id)


def lesson_readers(lesson) -> dict[str, int]:
    """How many active members read each language in the communities whose digests carry the lesson."""
    return _readers(Membership.community_id.in_(select(Community.id).where(Community.lesson_id == lesson.id)))


def _readers(which) -> dict[str, int]:
    rows = db.session.execute(select(Membership.language, func.count()).where(
        which, Membership.status == "active").group_by(Membership.language))
    counts = dict.fromkeys(LANGUAGES, 0)
    for language, number in rows:
        counts["es" if language == "es" else "en"] += number
    return counts


def readers_sentence(counts: dict[str, int]) -> str:
    """"18 members read English, 12 Spanish." for a compose page."""
    return _("%(english)s, %(spanish)s.",
             english=ngettext("%(num)d member reads English", "%(num)d members read English", counts["en"]),
             spanish=ngettext("%(num)d Spanish", "%(num)d Spanish", counts["es"]))


def language_name(language: str) -> str:
    """A language named in itself, as the compose pages head their columns."""
    return LANGUAGE_NAMES[language]
