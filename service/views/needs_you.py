"""The account page: how often the "needs you" summary is emailed (the list itself is on the dashboard)."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.account import NeedsSummaryForm
from service import needs_you
from service.errors import DomainError
from service.extensions import db
from service.views.helpers import show_domain_error

bp = Blueprint("needs_you", __name__, url_prefix="/account")


@bp.route("", methods=["GET", "POST"])
@login_required
def settings():
    form = NeedsSummaryForm(data={"frequency": current_user.needs_summary})
    if form.validate_on_submit():
        try:
            changed = needs_you.set_frequency(current_user, form.frequency.data)
        except DomainError as error:
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("Saved.") if changed else _("Nothing changed."))
            return redirect(url_for("needs_you.settings"))
    return render_template("needs_you/settings.html", form=form,
                           waiting=needs_you.for_account(current_user)), 400 if form.errors else 200
