"""Writing a lesson and its modules, in English and Spanish.

Which texts are required is the domain's rule (service/lessons.py); these
forms only bound the sizes, so "Preview" can show half-written text.
"""
from flask_babel import lazy_gettext as _l

from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import Length

from forms import Form

TITLE = [Length(max=200)]
TEXT = [Length(max=20000)]


class LessonForm(Form):
    title_en = StringField(_l("Title in English"), validators=TITLE)
    title_es = StringField(_l("Title in Spanish"), validators=TITLE)
    summary_en = TextAreaField(_l("Summary in English"), validators=[Length(max=2000)])
    summary_es = TextAreaField(_l("Summary in Spanish"), validators=[Length(max=2000)])


class ModuleForm(Form):
    title_en = StringField(_l("Title"), validators=TITLE)
    goal_en = TextAreaField(_l("Learning goal"), validators=TEXT)
    body_en = TextAreaField(_l("Body (Markdown)"), validators=TEXT)
    reflection_en = TextAreaField(_l("Reflection question (optional)"), validators=TEXT)
    practice_prompt_en = TextAreaField(_l("Practice prompt (optional)"), validators=TEXT)
    title_es = StringField(_l("Title"), validators=TITLE)
    goal_es = TextAreaField(_l("Learning goal"), validators=TEXT)
    body_es = TextAreaField(_l("Body (Markdown)"), validators=TEXT)
    reflection_es = TextAreaField(_l("Reflection question (optional)"), validators=TEXT)
    practice_prompt_es = TextAreaField(_l("Practice prompt (optional)"), validators=TEXT)
    save = SubmitField(_l("Save"))
    preview = SubmitField(_l("Preview"))
