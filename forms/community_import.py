"""Uploading a community export (a zip) to load it into this instance."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired

from forms import Form


class CommunityImportForm(Form):
    file = FileField(_l("Export file (.zip)"), validators=[FileRequired(_l("Choose the export's zip file."))])
