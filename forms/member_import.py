"""Uploading a CSV file of members."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField

from forms import Form


class MemberImportForm(Form):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file to upload."))])


class ImportConfirmForm(Form):
    """Confirming a previewed import; the welcome email is on by default, as when adding a member by hand."""
    send_welcome = BooleanField(_l("Send each new member the welcome email that explains how the community works "
                                   "by email"), default=True)
