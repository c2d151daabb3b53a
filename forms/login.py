"""The coordinator login form, and the new-password form a reset link opens."""
from flask_babel import lazy_gettext as _l
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from forms import Form


class LoginForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class NewPasswordForm(Form):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(_l("The same password again"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


class ForgotPasswordForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
