"""WTForms classes, one module per area. Every form carries a CSRF token (Flask-WTF)."""
from wtforms.fields.choices import SelectChoice


def choices(pairs) -> list[SelectChoice]:
    """Select and radio options from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]
