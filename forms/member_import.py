"""Uploading a CSV file of members."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired

from forms import Form


class MemberImportForm(Form):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file to upload."))])
