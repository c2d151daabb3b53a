"""Dashboard: CSV member import: upload, preview of bad rows, confirm, progress."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select

from forms.member_import import ImportConfirmForm, MemberImportForm
from service import member_import
from service.errors import DomainError
from service.extensions import db
from service.models import MemberImport
from service.views.helpers import community_or_404, show_domain_error

bp = Blueprint("imports", __name__, url_prefix="/communities/<int:community_id>/imports")


def _import_or_404(community, import_id) -> MemberImport:
    record = db.session.scalar(select(MemberImport).where(
        MemberImport.id == import_id, MemberImport.community_id == community.id))
    if record is None:
        abort(404)
    return record


@bp.route("/new", methods=["GET", "POST"])
@login_required
def upload(community_id: int):
    community = community_or_404(community_id)
    form = MemberImportForm()
    if form.validate_on_submit():
        upload_file = form.file.data
        try:
            record = member_import.preview_import(current_user, community, upload_file.filename or "members.csv",
                                                  upload_file.read())
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            return redirect(url_for("imports.show", community_id=community.id, import_id=record.id))
    return render_template("imports/upload.html", form=form, community=community), 400 if form.errors else 200


@bp.route("/<int:import_id>")
@login_required
def show(community_id: int, import_id: int):
    community = community_or_404(community_id)
    record = _import_or_404(community, import_id)
    welcome = member_import.welcome_recipients(record) if record.status == "previewed" else None
    return render_template("imports/show.html", community=community, record=record, form=ImportConfirmForm(),
                           welcome=welcome)


@bp.route("/<int:import_id>/confirm", methods=["POST"])
@login_required
def confirm(community_id: int, import_id: int):
    community = community_or_404(community_id)
    record = _import_or_404(community, import_id)
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        member_import.confirm_import(current_user, record, send_welcome=form.send_welcome.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        if record.status == "done":
            flash(ngettext("%(num)d member imported.", "%(num)d members imported.", record.created_count))
            return redirect(url_for("communities.show", community_id=community.id))
    return redirect(url_for("imports.show", community_id=community.id, import_id=record.id))
