"""Coordinator login and logout."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from forms.login import LoginForm
from forms.member import ConfirmForm
from service.coordinators import AccountDisabled, authenticate, end_sessions
from service.extensions import db, limiter

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_address() -> str:
    return "login:" + (request.form.get("email") or "").strip().lower()


def _failed(response) -> bool:
    """Only failed attempts count towards the limits."""
    return response.status_code != 302


def _safe_next(target: str | None) -> str:
    """Follow ?next= only to a path on this site."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("communities.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(_login_limit, methods=["POST"], key_func=_login_address, deduct_when=_failed)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("communities.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            coordinator = authenticate(form.email.data, form.password.data)
        except AccountDisabled as error:
            form.form_errors.append(error.message)
        else:
            if coordinator is not None:
                login_user(coordinator)
                return redirect(_safe_next(request.args.get("next")))
            form.form_errors.append(_("That email and password do not match an account."))
    status = 200 if request.method == "GET" or not form.errors else 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    if ConfirmForm().validate_on_submit():
        end_sessions(current_user)
        db.session.commit()
        logout_user()
        flash(_("You are logged out."))
    return redirect(url_for("auth.login"))
