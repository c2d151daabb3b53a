"""A community's export download, archive and restore, the admin's import page, and read-only archived pages."""
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import bindparam, select

from forms.community_import import CommunityImportForm
from forms.member import ConfirmForm
from service import community_archive, community_export, community_import
from service.communities import community_for
from service.errors import DomainError
from service.extensions import db
from service.models import Charter, Community, FormRequest, FormResponse, Meeting
from service.views.helpers import community_or_404
from service.views.member_pages import archived_link

bp = Blueprint("community_export", __name__)


def _runs_it_or_404(community_id: int) -> Community:
    community = community_or_404(community_id)
    if not community_archive.may_run(current_user, community):
        abort(404)
    return community


@bp.route("/communities/<int:community_id>/export.zip")
@login_required
def download(community_id: int):
    community = _runs_it_or_404(community_id)
    name, data = community_export.export_zip(current_user, community)
    db.session.commit()
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/communities/<int:community_id>/archive", methods=["POST"])
@login_required
def archive(community_id: int):
    return _change(community_id, community_archive.archive, _("Archived: this community sends nothing and its "
                                                              "pages are read-only until it is restored."))


@bp.route("/communities/<int:community_id>/restore", methods=["POST"])
@login_required
def restore(community_id: int):
    return _change(community_id, community_archive.restore, _("Restored: this community sends mail and can be "
                                                              "changed again."))


def _change(community_id: int, change, done: str):
    community = _runs_it_or_404(community_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        change(current_user, community)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(done)
    return redirect(url_for("communities.show", community_id=community.id))


# Pages members reach from their email's links (a preferences page is the person's, whatever the community).
MEMBER_LINKS = ("rsvp", "form_links", "practice_links", "charter_links")
# Member pages that refuse a POST in an archived community themselves, from the community their page read
# loads anyway (one statement instead of two: a member's form POST is among the busiest requests).
REFUSED_BY_THE_VIEW = ("form_links.answer",)


@bp.before_app_request
def archived_is_read_only():
    """Refuse every POST in an archived community, on the dashboard (except restoring it) and by members' links
    (a vote, an RSVP, a form, a practice), with a page that says so; a member's own preferences stay theirs."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.endpoint == "community_export.restore" \
            or request.endpoint in REFUSED_BY_THE_VIEW:
        return None
    member_link = request.blueprint in MEMBER_LINKS
    if not member_link and not current_user.is_authenticated:
        return None  # the login page first
    community = _community_of_request()
    if community is None or community.archived_at is None:
        return None
    if member_link:
        return archived_link()
    if community_for(current_user, community.id) is None:
        return None  # the view answers 404 for a community this account may not see
    return render_template("exports/archived.html", community=community), 409


# The community of a route's object, by the id the route names; built once (every member's POST asks).
_COMMUNITY_OF = {
    "meeting_id": select(Community).join(Meeting).where(Meeting.id == bindparam("id")),
    "charter_id": select(Community).join(Charter).where(Charter.id == bindparam("id")),
    "response_id": select(Community).join(FormRequest).join(FormResponse).where(FormResponse.id == bindparam("id")),
}


def _community_of_request() -> Community | None:
    """The community a request acts on, from the ids its route names."""
    args = request.view_args or {}
    if "community_id" in args:
        return db.session.get(Community, args["community_id"])
    key = next((key for key in _COMMUNITY_OF if key in args), None)
    return db.session.scalar(_COMMUNITY_OF[key], {"id": args[key]}) if key else None


@bp.route("/admin/communities/import", methods=["GET", "POST"])
@login_required
def import_page():
    if not current_user.is_admin:
        abort(404)
    form = CommunityImportForm()
    if form.validate_on_submit():
        try:
            community = community_import.import_community(current_user, form.file.data.stream)
        except DomainError as error:
            db.session.rollback()
            form.file.errors = list(form.file.errors) + [error.message]
        else:
            db.session.commit()
            flash(_("Imported %(name)s.", name=community.name))
            return redirect(url_for("communities.show", community_id=community.id))
    return render_template("exports/import.html", form=form), 400 if form.errors else 200
