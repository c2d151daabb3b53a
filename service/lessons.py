"""Lessons: creating and editing lessons and modules, rendering a module.

A lesson is an ordered list of modules; positions are always 0, 1, 2 ... with
no gaps, because members' digests walk them by index. Every text is in English
and Spanish; a Spanish text left empty falls back to the English one. The
built-in lessons are loaded from files by service/lesson_files.py, through the
same checks and module syncing as the dashboard's changes.
"""
import re
import unicodedata

from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select

from service import audit, bilingual, normalize
from service.errors import DomainError
from service.extensions import db
from service.markdown_text import render, stored_html
from service.models import Coordinator, Lesson, LessonModule
from service.communities import is_staff

LANGUAGES = ("en", "es")
LESSON_FIELDS = tuple(f"{name}_{lang}" for name in ("title", "summary") for lang in LANGUAGES)
MODULE_TEXTS = ("title", "goal", "body", "reflection", "practice_prompt")
MODULE_FIELDS = tuple(f"{name}_{lang}" for name in MODULE_TEXTS for lang in LANGUAGES)
MAX_TITLE = 200
MAX_SUMMARY = 2000
MAX_TEXT = 20000


# --- Validation, shared by the dashboard and the loader ----------------------------------------------------


def _check_title(field: str, value: str, required_message: str | None) -> str:
    if not value and required_message:
        raise DomainError(required_message, field)
    if len(value) > MAX_TITLE:
        raise DomainError(_("A title can have at most %(n)d characters.", n=MAX_TITLE), field)
    return value


def _check_length(field: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise DomainError(_("This text can have at most %(n)d characters.", n=limit), field)
    return value


def check_lesson(fields: dict) -> dict:
    values = {name: normalize.text(fields.get(name)) for name in ("title_en", "title_es")}
    values |= {name: normalize.text(fields.get(name), multiline=True) for name in ("summary_en", "summary_es")}
    _check_title("title_en", values["title_en"], _("A lesson needs a title in English."))
    _check_title("title_es", values["title_es"], None)
    for name in ("summary_en", "summary_es"):
        _check_length(name, values[name], MAX_SUMMARY)
    return values


def check_module(fields: dict) -> dict:
    values = {name: normalize.text(fields.get(name)) for name in ("title_en", "title_es")}
    values |= {name: normalize.text(fields.get(name), multiline=True)
               for name in MODULE_FIELDS if not name.startswith("title_")}
    _check_title("title_en", values["title_en"], _("A module needs a title in English."))
    _check_title("title_es", values["title_es"], None)
    if not values["goal_en"]:
        raise DomainError(_("A module needs a learning goal in English."), "goal_en")
    if not values["body_en"]:
        raise DomainError(_("A module needs a body in English."), "body_en")
    for name in MODULE_FIELDS:
        if not name.startswith("title_"):
            _check_length(name, values[name], MAX_TEXT)
    return values


def assign(target, values: dict) -> list[str]:
    """Set the attributes that differ; the names of those that changed."""
    changed = [name for name, value in values.items() if getattr(target, name) != value]
    for name in changed:
        setattr(target, name, values[name])
    return changed


def _render_body(module: LessonModule) -> None:
    """Store the module's body, in each language, as sanitised HTML and plain text (rendered once, when saved)."""
    for language in LANGUAGES:
        rendered = render(getattr(module, f"body_{language}") or "")
        setattr(module, f"body_html_{language}", rendered.html)
        setattr(module, f"body_plain_{language}", rendered.plain)


def _place(modules: list[LessonModule]) -> None:
    """Number modules 0, 1, 2 ... in this order without ever breaking the unique (lesson, position)."""
    if all(module.position == index for index, module in enumerate(modules)):
        return
    for index, module in enumerate(modules):
        module.position = -1 - index  # out of the way first: each UPDATE is checked on its own
    db.session.flush()
    for index, module in enumerate(modules):
        module.position = index
    db.session.flush()


def _ordered(lesson: Lesson) -> list[LessonModule]:
    return sorted(lesson.modules, key=lambda module: module.position)


def sync_modules(lesson: Lesson, specs: list[dict]) -> list[int]:
    """Make the lesson's modules match `specs` in order, matched by position; indexes of modules that changed."""
    current = _ordered(lesson)
    for extra in current[len(specs):]:
        lesson.modules.remove(extra)  # delete-orphan: the row goes
    if len(current) > len(specs):
        db.session.flush()  # deletes before inserts and renumbering, or positions collide
    free = max((module.position for module in current), default=-1) + 1
    ordered, changed = [], []
    for index, values in enumerate(specs):
        if index < len(current):
            module = current[index]
            if assign(module, values):
                changed.append(index)
        else:
            module = LessonModule(position=free + index, **values)
            lesson.modules.append(module)
            changed.append(index)
        _render_body(module)
        ordered.append(module)
    db.session.flush()
    _place(ordered)
    db.session.expire(lesson, ["modules"])  # reload in position order on next access
    return changed


# --- The dashboard: reading ----------------------------------------------------------------------------------


def all_lessons() -> list[tuple[Lesson, int]]:
    """Every lesson with its number of modules, built-in ones first, then by title."""
    counts = (select(LessonModule.lesson_id, func.count().label("n")).group_by(LessonModule.lesson_id)
              .subquery())
    rows = db.session.execute(
        select(Lesson, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.lesson_id == Lesson.id)
        .order_by(Lesson.built_in.desc(), func.lower(Lesson.title_en), Lesson.id))
    return [(lesson, count) for lesson, count in rows]


def get_lesson(lesson_id: int) -> Lesson | None:
    return db.session.get(Lesson, lesson_id)


def module_in(lesson: Lesson, module_id: int) -> LessonModule | None:
    """The module if it belongs to this lesson, else None."""
    return db.session.scalar(select(LessonModule).where(LessonModule.id == module_id,
                                                        LessonModule.lesson_id == lesson.id))


def may_write(coordinator: Coordinator) -> bool:
    """Whether the account may write lessons: TTA staff (communities.is_staff). Every community's digests may use a
    lesson, so a community's leaders only read the library."""
    return is_staff(coordinator)


def may_edit(coordinator: Coordinator, lesson: Lesson) -> bool:
    """Those who may write lessons may change the ones written on the dashboard; built-in ones only an admin."""
    return bool(coordinator.is_admin or (not lesson.built_in and may_write(coordinator)))


def _require_edit(actor: Coordinator, lesson: Lesson | None) -> None:
    if lesson is not None and lesson.built_in and not actor.is_admin:
        raise DomainError(_("Only an administrator can change a built-in lesson."))
    if not may_write(actor):
        raise DomainError(_("Only TTA coordinators write lessons: a lesson may reach every community's digests."))


# --- The dashboard: changing ---------------------------------------------------------------------------------


def _slug_for(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].strip("-") or "lesson"
    taken = set(db.session.scalars(select(Lesson.slug).where(Lesson.slug.like(f"{base}%"))))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_lesson(actor: Coordinator, **fields) -> Lesson:
    """A new lesson with no modules yet, written on the dashboard; the caller commits."""
    _require_edit(actor, None)
    values = check_lesson(fields)
    lesson = Lesson(slug=_slug_for(values["title_en"]), built_in=False, **values)
    db.session.add(lesson)
    db.session.flush()
    audit.record(actor, "lesson.create", "lesson", lesson.id, slug=lesson.slug, title=lesson.title_en)
    return lesson


def update_lesson(actor: Coordinator, lesson: Lesson, **fields) -> Lesson:
    """Change a lesson's titles and summaries; the caller commits."""
    _require_edit(actor, lesson)
    changed = assign(lesson, check_lesson(fields))
    if changed:
        audit.record(actor, "lesson.update", "lesson", lesson.id, fields=changed)
    return lesson


def add_module(actor: Coordinator, lesson: Lesson, **fields) -> LessonModule:
    """Append a module to the end of the lesson; the caller commits."""
    _require_edit(actor, lesson)
    values = check_module(fields)
    position = db.session.scalar(select(func.coalesce(func.max(LessonModule.position) + 1, 0))
                                 .where(LessonModule.lesson_id == lesson.id))
    module = LessonModule(lesson_id=lesson.id, position=position, **values)
    _render_body(module)
    db.session.add(module)
    db.session.flush()
    db.session.expire(lesson, ["modules"])
    audit.record(actor, "lesson.module_add", "lesson_module", module.id, lesson_id=lesson.id,
                 position=position, title=module.title_en)
    return module


def update_module(actor: Coordinator, module: LessonModule, **fields) -> LessonModule:
    """Change a module's texts; the caller commits."""
    _require_edit(actor, module.lesson)
    changed = assign(module, check_module(fields))
    _render_body(module)
    if changed:
        audit.record(actor, "lesson.module_update", "lesson_module", module.id, lesson_id=module.lesson_id,
                     fields=changed)
    return module


def move_module(actor: Coordinator, module: LessonModule, direction: str) -> bool:
    """Swap a module with its neighbour "up" (earlier) or "down" (later); False at either end."""
    lesson = module.lesson
    _require_edit(actor, lesson)
    ordered = _ordered(lesson)
    index = ordered.index(module)
    other = index - 1 if direction == "up" else index + 1 if direction == "down" else -1
    if not 0 <= other < len(ordered):
        return False
    ordered[index], ordered[other] = ordered[other], ordered[index]
    _place(ordered)
    db.session.expire(lesson, ["modules"])
    audit.record(actor, "lesson.module_move", "lesson_module", module.id, lesson_id=lesson.id,
                 position=[index, other])
    return True


def delete_module(actor: Coordinator, module: LessonModule) -> None:
    """Remove a module; the ones after it move up a place. The caller commits."""
    lesson = module.lesson
    _require_edit(actor, lesson)
    remaining = [m for m in _ordered(lesson) if m.id != module.id]
    audit.record(actor, "lesson.module_delete", "lesson_module", module.id, lesson_id=lesson.id,
                 position=module.position, title=module.title_en)
    lesson.modules.remove(module)
    db.session.flush()
    _place(remaining)
    db.session.expire(lesson, ["modules"])


# --- Rendering -----------------------------------------------------------------------------------------------


def draft_module(**fields) -> LessonModule:
    """An unsaved module holding typed text, for a preview; never added to the session."""
    module = LessonModule(**{name: normalize.text(fields.get(name), multiline=True) for name in MODULE_FIELDS})
    _render_body(module)
    return module


def module_html(module: LessonModule, language: str) -> Markup:
    """The module's body in `language` (English when not translated) as sanitised HTML, as stored when saved."""
    return stored_html(module.text("body_html", language))


def module_text(module: LessonModule, language: str) -> str:
    """The module's body in `language` for a plain-text email: the Markdown as readable text, as stored when saved."""
    return module.text("body_plain", language)


def module_parts(module: LessonModule, language: str) -> dict:
    """Everything an email shows of a module, in `language`, each text falling back to the other language when
    not written; `written_in` says when one did (service.bilingual)."""
    shown = bilingual.InLanguage(module, language)
    return {"title": shown.title, "goal": shown.goal, "body_html": stored_html(shown.body_html),
            "body_text": shown.body_plain, "reflection": shown.reflection, "practice_prompt": shown.practice_prompt,
            "written_in": shown.written_in}
