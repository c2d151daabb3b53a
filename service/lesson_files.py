"""The built-in lessons, loaded from folders of TOML and Markdown files (the format: lessons/README.md).

Each folder is read and checked as a whole (the same checks as the dashboard's) before anything is written, and
loading it again updates the lesson in place: never a duplicate.
"""
import re
import tomllib
from pathlib import Path

from sqlalchemy import select

from service import audit, lessons
from service.config import PROJECT_ROOT
from service.errors import DomainError
from service.extensions import db
from service.lessons import LANGUAGES, LESSON_FIELDS
from service.models import Lesson

LESSONS_DIR = PROJECT_ROOT / "lessons"
BUILT_IN_LESSON_DIR = LESSONS_DIR / "establishing-a-cop"
_FRONT_MATTER_FENCE = "+++"
_MODULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class LessonFileError(ValueError):
    """A lesson folder that cannot be loaded; the message names the file and the problem."""


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
        lesson = {"slug": slug, **lessons.check_lesson({k: manifest.get(k, "") for k in LESSON_FIELDS})}
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
            modules.append(lessons.check_module(fields))
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
    changed = lessons.assign(lesson, {**{k: values[k] for k in LESSON_FIELDS}, "built_in": True})
    removed = max(len(lesson.modules) - len(specs), 0)
    db.session.flush()
    changed_modules = lessons.sync_modules(lesson, specs)
    if created or changed or changed_modules or removed:
        audit.record(None, "lesson.load", "lesson", lesson.id, slug=lesson.slug, created=created,
                     fields=changed, modules=len(specs), modules_changed=changed_modules, modules_removed=removed)
    return lesson
