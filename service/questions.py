"""The questions of each form, shared by the member forms, the review dashboard and the CSV export.

A question is a rating (a whole number in a range, stored in value_int) or a
text (stored in value_text). Keys are stable: they are stored with each answer.
"""
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Question:
    key: str
    label: object            # lazy translated text
    kind: str                # "rating" or "text"
    low: int = 0
    high: int = 0
    required: bool = False

    @property
    def scale(self) -> range:
        return range(self.low, self.high + 1)


FEEDBACK = (
    Question("usefulness", _l("How useful was this meeting for your work?"), "rating", 1, 5, required=True),
    Question("what_worked", _l("What worked well?"), "text"),
    Question("what_to_change", _l("What should we change?"), "text"),
    Question("next_topics", _l("Topics for next time"), "text"),
    Question("recommend", _l("How likely are you to recommend this community to a colleague?"), "rating", 0, 10,
             required=True),
)

CHARTER = (
    Question("purpose", _l("Purpose: why does this community exist?"), "text", required=True),
    Question("goals", _l("Goals for the year"), "text"),
    Question("membership", _l("Who belongs: which organizations and roles?"), "text"),
    Question("roles", _l("Roles: who convenes, facilitates and takes notes?"), "text"),
    Question("rhythm", _l("Meeting rhythm and format"), "text"),
    Question("decisions", _l("How are decisions made?"), "text"),
    Question("communication", _l("How do members communicate between meetings?"), "text"),
    Question("success", _l("What does success look like?"), "text"),
)

FORMS = {"feedback": FEEDBACK, "charter": CHARTER}


def questions(kind: str) -> tuple[Question, ...]:
    return FORMS[kind]


def question(kind: str, key: str) -> Question:
    return next(q for q in FORMS[kind] if q.key == key)
