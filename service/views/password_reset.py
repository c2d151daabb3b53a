"""The pages that set a password from an emailed link (a reset, or an invitation's first password), and the
login page's "Forgot your password?" form that emails a reset link (service.password_reset)."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from forms.login import ForgotPasswordForm, NewPasswordForm
from service import password_reset
from service.coordinators import find_coordinator
from service.errors import DomainError
from service.extensions import db, limiter
from service.views.helpers import show_domain_error

bp = Blueprint("password_reset", __name__)


# Gone for good (expired, used), refused (the account is disabled), or never ours.
_STATUS = {"expired": 410, "used": 410, "disabled": 403, "invalid": 404}


def _link_error(error: password_reset.ResetLinkError, purpose: str):
    return render_template("auth/reset_link_error.html", reason=error.reason, purpose=purpose), _STATUS[error.reason]


def _limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _forgot_address() -> str:
    return "forgot:" + (request.form.get("email") or "").strip().lower()


@bp.route("/password/<token>", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
def reset(token: str):
    return _set_password(password_reset.RESET, token, "reset")


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
def accept_invitation(token: str):
    return _set_password(password_reset.INVITATION, token, "invitation")


def _set_password(link: password_reset.PasswordLink, token: str, purpose: str):
    """The one form both links open; an invited person is logged in once their password is set."""
    try:
        coordinator = link.coordinator_for(token)
    except password_reset.ResetLinkError as error:
        return _link_error(error, purpose)
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            coordinator = link.use(token, form.password.data)
        except password_reset.ResetLinkError as error:  # used by another submission a moment ago
            db.session.rollback()
            return _link_error(error, purpose)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            logout_user()  # whoever was logged in in this browser; the account's sessions ended with the change
            if purpose == "invitation":
                login_user(coordinator)
                flash(_("Welcome! Your password is set."))
                return redirect(url_for("communities.index"))
            flash(_("Your new password is set. Log in with it."))
            return redirect(url_for("auth.login"))
    status = 200 if request.method == "GET" or not form.errors else 400
    return render_template("auth/reset_password.html", form=form, email=coordinator.email,
                           purpose=purpose), status


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
@limiter.limit("3 per hour", methods=["POST"], key_func=_forgot_address)
def forgot():
    """Email a reset link to the address if an active account has it; the answer is the same either way."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        coordinator = find_coordinator(form.email.data)
        if coordinator is not None and coordinator.active:
            password_reset.request_reset(coordinator, asked_by="self")
            db.session.commit()
        flash(_("If an account has the address %(address)s, we have emailed it a link to set a new password. "
                "It works once, for %(hours)d hours.", address=form.email.data, hours=password_reset.RESET.hours))
        return redirect(url_for("auth.login"))
    status = 200 if request.method == "GET" or not form.errors else 400
    return render_template("auth/forgot_password.html", form=form), status
