"""WTForms classes, one module per area. Every form carries a CSRF token (Flask-WTF) and cleans its text."""
from functools import partial

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from service import normalize


def choices(pairs) -> list[SelectChoice]:
    """Select and radio options from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


class Form(FlaskForm):
    """The base of every form: what people type passes service.normalize.text before any validator sees it.

    One line for a StringField (and EmailField, URLField, HiddenField...),
    several for a TextAreaField; passwords are taken as they come.
    """

    class Meta(FlaskForm.Meta):
        def bind_field(self, form, unbound_field, options):
            kind = unbound_field.field_class
            if issubclass(kind, StringField) and not issubclass(kind, PasswordField):
                clean = partial(normalize.text, multiline=issubclass(kind, TextAreaField))
                options["filters"] = (clean, *unbound_field.kwargs.get("filters", ()))
            return super().bind_field(form, unbound_field, options)
