"""The page a password reset link opens: one form setting a new password (service.password_reset)."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import logout_user

from forms.login import NewPasswordForm
from service import password_reset
from service.errors import DomainError
from service.extensions import db, limiter
from service.views.helpers import show_domain_error

bp = Blueprint("password_reset", __name__)


# Gone for good (expired, used), refused (the account is disabled), or never ours.
_STATUS = {"expired": 410, "used": 410, "disabled": 403, "invalid": 404}


def _link_error(error: password_reset.ResetLinkError):
    return render_template("auth/reset_link_error.html", reason=error.reason), _STATUS[error.reason]


def _limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/password/<token>", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
def reset(token: str):
    try:
        coordinator = password_reset.coordinator_for(token)
    except password_reset.ResetLinkError as error:
        return _link_error(error)
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            password_reset.reset(token, form.password.data)
        except password_reset.ResetLinkError as error:  # used by another submission a moment ago
            db.session.rollback()
            return _link_error(error)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            logout_user()  # whoever was logged in in this browser; the account's sessions ended with the reset
            flash(_("Your new password is set. Log in with it."))
            return redirect(url_for("auth.login"))
    status = 200 if request.method == "GET" or not form.errors else 400
    return render_template("auth/reset_password.html", form=form, email=coordinator.email), status
