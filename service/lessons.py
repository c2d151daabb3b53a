"""Lessons: loading the built-in ones from files, creating and editing lessons and modules, rendering a module.

A lesson is an ordered list of modules; positions are always 0, 1, 2 ... with
no gaps, because members' digests walk them by index. Every text is in English
and Spanish; a Spanish text left empty falls back to the English one. The file
format that `load_lesson_dir` reads is described in lessons/README.md.
"""
import re
import tomllib
import unicodedata
from pathlib import Path

from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select

from service import audit, bilingual, normalize
from service.config import PROJECT_ROOT
from service.errors import DomainError
from service.extensions import db
from service.markdown_text import render, stored_html
from service.models import Coordinator, Lesson, LessonModule
from service.communities import is_staff

LESSONS_DIR = PROJECT_ROOT / "lessons"
BUILT_IN_LESSON_DIR = LESSONS_DIR / "establishing-a-cop"
LANGUAGES = ("en", "es")
LESSON_FIELDS = tuple(f"{name}_{lang}" for name in ("title", "summary") for lang in LANGUAGES)
MODULE_TEXTS = ("title", "goal", "body", "reflection", "practice_prompt")
MODULE_FIELDS = tuple(f"{name}_{lang}" for name in MODULE_TEXTS for lang in LANGUAGES)
MAX_TITLE = 200
MAX_SUMMARY = 2000
MAX_TEXT = 20000
_FRONT_MATTER_FENCE = "+++"
_MODULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class LessonFileError(ValueError):
    """A lesson folder that cannot be loaded; the message names the file and the problem."""


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


def _check_lesson(fields: dict) -> dict:
    values = {name: normalize.text(fields.get(name)) for name in ("title_en", "title_es")}
    values |= {name: normalize.text(fields.get(name), multiline=True) for name in ("summary_en", "summary_es")}
    _check_title("title_en", values["title_en"], _("A lesson needs a title in English."))
    _check_title("title_es", values["title_es"], None)
    for name in ("summary_en", "summary_es"):
        _check_length(name, values[name], MAX_SUMMARY)
    return values


def _check_module(fields: dict) -> dict:
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


def _assign(target, values: dict) -> list[str]:
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


def _sync_modules(lesson: Lesson, specs: list[dict]) -> list[int]:
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
            if _assign(module, values):
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


# --- Loading lessons from files ------------------------------------------------------------------------------


def lesson_dirs(root: Path = LESSONS_DIR) -> list[Path]:
    """Every folder directly under `root` that holds a lesson.toml, by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(path for path in root.iterdir() if (path / "lesson.toml").is_file())


def _read_toml(path: Path, text: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LessonFileError(f"{path}: not valid TOML ({error})") from None


def _read_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LessonFileError(f"{path}: not UTF-8 text") from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def parse_module_file(path: Path) -> dict[str, str]:
    """A module file's front matter and body: {"title", "goal", "reflection", "practice_prompt", "body"}."""
    text = _read_text(path)
    lines = text.split("\n")
    if not lines or lines[0].strip() != _FRONT_MATTER_FENCE:
        raise LessonFileError(f"{path}: must start with a {_FRONT_MATTER_FENCE} front-matter line")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == _FRONT_MATTER_FENCE)
    except StopIteration:
        raise LessonFileError(f"{path}: the front matter has no closing {_FRONT_MATTER_FENCE} line") from None
    meta = _read_toml(path, "\n".join(lines[1:end]))
    allowed = {"title", "goal", "reflection", "practice_prompt"}
    unknown = sorted(set(meta) - allowed)
    if unknown:
        raise LessonFileError(f"{path}: unknown front-matter keys {unknown}; use {sorted(allowed)}")
    wrong = sorted(key for key, value in meta.items() if not isinstance(value, str))
    if wrong:
        raise LessonFileError(f"{path}: {wrong} must be text in quotes")
    return {**meta, "body": "\n".join(lines[end + 1:])}


def read_lesson_dir(path: Path) -> tuple[dict, list[dict]]:
    """The lesson's fields and its modules' fields, in order, read and checked from a lesson folder."""
    path = Path(path)
    manifest_path = path / "lesson.toml"
    if not manifest_path.is_file():
        raise LessonFileError(f"{path}: no lesson.toml in this folder")
    manifest = _read_toml(manifest_path, _read_text(manifest_path))
    slug = manifest.get("slug", path.name)
    if not isinstance(slug, str) or not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug) or len(slug) > 100:
        raise LessonFileError(f"{manifest_path}: slug must be lowercase letters, digits and hyphens")
    names = manifest.get("modules")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise LessonFileError(f"{manifest_path}: modules must be a non-empty list of module names")
    bad = [n for n in names if not _MODULE_NAME.fullmatch(n)]
    if bad or len(set(names)) != len(names):
        raise LessonFileError(f"{manifest_path}: module names must be distinct plain file names, not {bad or names}")
    try:
        lesson = {"slug": slug, **_check_lesson({k: manifest.get(k, "") for k in LESSON_FIELDS})}
    except DomainError as error:
        raise LessonFileError(f"{manifest_path}: {error.field}: {error.message}") from None
    modules = []
    for name in names:
        fields = {}
        for language in LANGUAGES:
            module_path = path / f"{name}.{language}.md"
            if not module_path.is_file():
                if language == "en":
                    raise LessonFileError(f"{module_path}: missing (every module needs its English file)")
                continue
            for key, value in parse_module_file(module_path).items():
                fields[f"{key}_{language}"] = value
        try:
            modules.append(_check_module(fields))
        except DomainError as error:
            raise LessonFileError(f"{path / name}: {error.field}: {error.message}") from None
    return lesson, modules


def load_lesson_dir(path: Path) -> Lesson:
    """Create or update the built-in lesson kept in a folder; loading again never duplicates. The caller commits."""
    values, specs = read_lesson_dir(path)
    lesson = db.session.scalar(select(Lesson).where(Lesson.slug == values["slug"]))
    created = lesson is None
    if created:
        lesson = Lesson(slug=values["slug"], built_in=True)
        db.session.add(lesson)
    changed = _assign(lesson, {**{k: values[k] for k in LESSON_FIELDS}, "built_in": True})
    removed = max(len(lesson.modules) - len(specs), 0)
    db.session.flush()
    changed_modules = _sync_modules(lesson, specs)
    if created or changed or changed_modules or removed:
        audit.record(None, "lesson.load", "lesson", lesson.id, slug=lesson.slug, created=created,
                     fields=changed, modules=len(specs), modules_changed=changed_modules, modules_removed=removed)
    return lesson


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
    values = _check_lesson(fields)
    lesson = Lesson(slug=_slug_for(values["title_en"]), built_in=False, **values)
    db.session.add(lesson)
    db.session.flush()
    audit.record(actor, "lesson.create", "lesson", lesson.id, slug=lesson.slug, title=lesson.title_en)
    return lesson


def update_lesson(actor: Coordinator, lesson: Lesson, **fields) -> Lesson:
    """Change a lesson's titles and summaries; the caller commits."""
    _require_edit(actor, lesson)
    changed = _assign(lesson, _check_lesson(fields))
    if changed:
        audit.record(actor, "lesson.update", "lesson", lesson.id, fields=changed)
    return lesson


def add_module(actor: Coordinator, lesson: Lesson, **fields) -> LessonModule:
    """Append a module to the end of the lesson; the caller commits."""
    _require_edit(actor, lesson)
    values = _check_module(fields)
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
    changed = _assign(module, _check_module(fields))
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
