"""Dashboard: the lesson library: lessons, their modules in order, writing and previewing a module.

Every coordinator can read every lesson. Lessons written here may be changed
by any coordinator; built-in lessons (loaded from files) only by admins, and
their edit pages answer 404 to everyone else.
"""
from functools import lru_cache

from babel.support import Translations
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.lesson import LessonForm, ModuleForm
from forms.member import ConfirmForm
from service import bilingual, lessons
from service.config import PROJECT_ROOT
from service.extensions import db
from service.lessons import LANGUAGES, LESSON_FIELDS, MODULE_FIELDS
from service.models import Lesson, LessonModule
from service.views.helpers import saved

bp = Blueprint("lessons", __name__, url_prefix="/lessons")


def _lesson_or_404(lesson_id: int, edit: bool = False) -> Lesson:
    lesson = lessons.get_lesson(lesson_id)
    if lesson is None or (edit and not lessons.may_edit(current_user, lesson)):
        abort(404)
    return lesson


def _module_or_404(lesson: Lesson, module_id: int) -> LessonModule:
    module = lessons.module_in(lesson, module_id)
    if module is None:
        abort(404)
    return module


@lru_cache(maxsize=4)
def _catalog(language: str) -> Translations:
    return Translations.load(str(PROJECT_ROOT / "translations"), [language])


def _previews(module: LessonModule | None) -> list[dict]:
    """The module as each language's email shows it, with the email's headings in that language."""
    if module is None:
        return []
    previews = []
    for language in LANGUAGES:
        reader = _catalog(language).gettext  # the headings digest.html puts around a module, in its language
        labels = {"language": _("English") if language == "en" else _("Spanish"),  # in the coordinator's
                  "goal": reader("Goal:"), "reflection": reader("To think about:"),
                  "practice_prompt": reader("Try this:"),
                  "written_in": reader("(This lesson was written in English only.)")}
        previews.append({"language": language, "labels": labels, **lessons.module_parts(module, language)})
    return previews


@bp.route("/")
@login_required
def index():
    return render_template("lessons/index.html", lessons=lessons.all_lessons(),
                           may_write=lessons.may_write(current_user))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    form = LessonForm()
    lesson = saved(form, lambda: lessons.create_lesson(current_user, **_fields(form, LESSON_FIELDS)))
    if lesson is not None:
        flash(_("Lesson created. Now add its first module."))
        return redirect(url_for("lessons.show", lesson_id=lesson.id))
    return render_template("lessons/form.html", form=form, lesson=None), 400 if form.errors else 200


@bp.route("/<int:lesson_id>")
@login_required
def show(lesson_id: int):
    lesson = _lesson_or_404(lesson_id)
    return render_template("lessons/show.html", lesson=lesson, modules=lesson.modules,
                           editable=lessons.may_edit(current_user, lesson), confirm_form=ConfirmForm())


@bp.route("/<int:lesson_id>/edit", methods=["GET", "POST"])
@login_required
def edit(lesson_id: int):
    lesson = _lesson_or_404(lesson_id, edit=True)
    form = LessonForm(obj=lesson)
    if saved(form, lambda: lessons.update_lesson(current_user, lesson, **_fields(form, LESSON_FIELDS))) is not None:
        flash(_("Changes saved."))
        return redirect(url_for("lessons.show", lesson_id=lesson.id))
    return render_template("lessons/form.html", form=form, lesson=lesson), 400 if form.errors else 200


def _fields(form, names) -> dict:
    return {name: form[name].data for name in names}


def _module_editor(form: ModuleForm, lesson: Lesson, module: LessonModule | None, change, done: str):
    """A module's new or edit page: a preview of what was typed, the change saved, or the form again (what was
    typed once submitted: a preview or a refusal shows that, not what is saved)."""
    if not (form.is_submitted() and form.preview.data):  # CSRF was checked before the view ran
        changed = saved(form, change)
        if changed is not None:
            flash(done)
            return redirect(url_for("lessons.show", lesson_id=lesson.id, _anchor=f"module-{changed.id}"))
    if form.is_submitted():
        return _module_page(form, lesson, module, lessons.draft_module(**_fields(form, MODULE_FIELDS)), unsaved=True)
    return _module_page(form, lesson, module, module, unsaved=False)


def _module_page(form: ModuleForm, lesson: Lesson, module: LessonModule | None, shown: LessonModule | None,
                 unsaved: bool):
    return render_template("lessons/module_form.html", form=form, lesson=lesson, module=module,
                           previews=_previews(shown), unsaved=unsaved,
                           readers=bilingual.lesson_readers(lesson)), 400 if form.errors else 200


@bp.route("/<int:lesson_id>/modules/new", methods=["GET", "POST"])
@login_required
def new_module(lesson_id: int):
    lesson = _lesson_or_404(lesson_id, edit=True)
    form = ModuleForm()
    return _module_editor(form, lesson, None,
                          lambda: lessons.add_module(current_user, lesson, **_fields(form, MODULE_FIELDS)),
                          _("Module added."))


@bp.route("/<int:lesson_id>/modules/<int:module_id>")
@login_required
def show_module(lesson_id: int, module_id: int):
    lesson = _lesson_or_404(lesson_id)
    module = _module_or_404(lesson, module_id)
    return render_template("lessons/module.html", lesson=lesson, module=module, previews=_previews(module),
                           editable=lessons.may_edit(current_user, lesson))


@bp.route("/<int:lesson_id>/modules/<int:module_id>/edit", methods=["GET", "POST"])
@login_required
def edit_module(lesson_id: int, module_id: int):
    lesson = _lesson_or_404(lesson_id, edit=True)
    module = _module_or_404(lesson, module_id)
    form = ModuleForm(obj=module)
    return _module_editor(form, lesson, module,
                          lambda: lessons.update_module(current_user, module, **_fields(form, MODULE_FIELDS)),
                          _("Changes saved."))


@bp.route("/<int:lesson_id>/modules/<int:module_id>/<any(up, down):direction>", methods=["POST"])
@login_required
def move_module(lesson_id: int, module_id: int, direction: str):
    lesson = _lesson_or_404(lesson_id, edit=True)
    module = _module_or_404(lesson, module_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if lessons.move_module(current_user, module, direction):
        db.session.commit()
        flash(_("Module moved up.") if direction == "up" else _("Module moved down."))
    return redirect(url_for("lessons.show", lesson_id=lesson.id, _anchor=f"module-{module.id}"))


@bp.route("/<int:lesson_id>/modules/<int:module_id>/delete", methods=["GET", "POST"])
@login_required
def delete_module(lesson_id: int, module_id: int):
    lesson = _lesson_or_404(lesson_id, edit=True)
    module = _module_or_404(lesson, module_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        title = module.title_en
        lessons.delete_module(current_user, module)
        db.session.commit()
        flash(_("Module “%(title)s” deleted.", title=title))
        return redirect(url_for("lessons.show", lesson_id=lesson.id))
    return render_template("lessons/delete_module.html", lesson=lesson, module=module, form=form)
