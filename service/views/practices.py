"""Dashboard: the queue of practices members shared, and approving, editing or declining each one."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user, login_required

from forms.practice import ApproveForm, DeclineForm, PracticeEditForm
from service import moments, practices
from service.errors import DomainError
from service.extensions import db
from service.models import Community, Practice
from service.views.helpers import community_or_404, show_domain_error

bp = Blueprint("practices", __name__, url_prefix="/communities/<int:community_id>/practices")


def _practice_or_404(community: Community, practice_id: int) -> Practice:
    """The practice if it belongs to this (visible) community; 404 for any other id."""
    practice = practices.practice_in(community, practice_id)
    if practice is None:
        abort(404)
    return practice


def _back(community: Community):
    return redirect(url_for("practices.index", community_id=community.id))


@bp.route("/")
@login_required
def index(community_id: int):
    community = community_or_404(community_id)
    return render_template("practices/index.html", community=community,
                           pending=practices.pending_for(community),
                           approved=practices.reviewed(community, "approved"),
                           declined=practices.reviewed(community, "declined"),
                           approve_form=ApproveForm(), decline_form=DeclineForm(), local=moments.writer(community.time_zone, str(get_locale())))


@bp.route("/<int:practice_id>/approve", methods=["POST"])
@login_required
def approve(community_id: int, practice_id: int):
    community = community_or_404(community_id)
    practice = _practice_or_404(community, practice_id)
    if not ApproveForm().validate_on_submit():
        abort(400)
    if practice.status == "approved":
        flash(_("“%(title)s” was already approved.", title=practice.title))
    else:
        practices.approve(current_user, practice)
        db.session.commit()
        flash(_("Approved “%(title)s”. It appears in the next digest.", title=practice.title))
    return _back(community)


@bp.route("/<int:practice_id>/decline", methods=["POST"])
@login_required
def decline(community_id: int, practice_id: int):
    community = community_or_404(community_id)
    practice = _practice_or_404(community, practice_id)
    form = DeclineForm()
    if not form.validate_on_submit():
        abort(400)
    if practice.status == "declined":
        flash(_("“%(title)s” was already declined.", title=practice.title))
    else:
        practices.decline(current_user, practice, form.reason.data)
        db.session.commit()
        flash(_("Declined “%(title)s”. It will not appear in any digest.", title=practice.title))
    return _back(community)


@bp.route("/<int:practice_id>/edit", methods=["GET", "POST"])
@login_required
def edit(community_id: int, practice_id: int):
    community = community_or_404(community_id)
    practice = _practice_or_404(community, practice_id)
    form = PracticeEditForm(obj=practice)
    if form.validate_on_submit():
        fields = {name: getattr(form, name).data for name in practices.TEXT_FIELDS}
        publish = form.save_and_approve.data and practice.status != "approved"
        try:
            if publish:
                practices.approve(current_user, practice, **fields)
            else:
                changes = practices.edit(current_user, practice, **fields)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            if publish:
                flash(_("Saved and approved “%(title)s”. It appears in the next digest.", title=practice.title))
            else:
                flash(_("Changes saved.") if changes else _("Nothing changed."))
            return _back(community)
    return render_template("practices/edit.html", form=form, community=community, practice=practice,
                           local=moments.writer(community.time_zone, str(get_locale()))), 400 if form.errors else 200
