"""A community's "People who run it": invitations, roles, removal, stepping back (service.roles); and the rule,
for every dashboard route, that an observer may look at a community but change nothing in it."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from forms.member import ConfirmForm
from forms.roles import InviteForm, RoleForm, StepBackForm
from service import roles
from service.communities import community_for
from service.errors import DomainError
from service.extensions import db
from service.models import Community, OutboundEmail
from service.views.helpers import community_or_404, role_here, saved

bp = Blueprint("people", __name__, url_prefix="/communities/<int:community_id>")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@bp.before_app_request
def observers_change_nothing():
    """Refuse, before any view runs, a change an observer asks for in a community they only observe: one
    check for every dashboard route under a community, and for the outbox's emails of that community."""
    if request.method in SAFE_METHODS or not current_user.is_authenticated or not request.view_args \
            or "token" in request.view_args:  # a member's link: its token is the authority, not the login
        return None
    community_id = request.view_args.get("community_id")
    if community_id is None and "email_id" in request.view_args:
        community_id = db.session.scalar(select(OutboundEmail.community_id).where(
            OutboundEmail.id == request.view_args["email_id"]))
    if community_id is None or not roles.is_read_only(current_user, community_id):
        return None
    community = db.session.get(Community, community_id)
    return render_template("people/read_only.html", community=community), 403


@bp.app_context_processor
def observer_pages():
    """`observing()` for the page's layout: whether the account only observes the community the page is about
    (its change buttons are then hidden and a line says why; the check above refuses them anyway)."""
    def observing() -> bool:
        community_id = (request.view_args or {}).get("community_id")
        return bool(community_id and current_user.is_authenticated and role_here(community_id) == "observer")
    return {"observing": observing}


def _page(community: Community, invite_form=None, status: int = 200):
    return render_template("people/index.html", community=community, section=roles.section(current_user, community),
                           invite_form=invite_form or InviteForm(), role_form=RoleForm(),
                           confirm_form=ConfirmForm(), step_back_form=StepBackForm()), status


@bp.route("/people")
@login_required
def index(community_id: int):
    return _page(community_or_404(community_id))


@bp.route("/people/invite", methods=["POST"])
@login_required
def invite(community_id: int):
    community = community_or_404(community_id)
    form = InviteForm()
    account = saved(form, lambda: roles.invite(current_user, community, email=form.email.data, role=form.role.data,
                                               name=form.name.data, language=form.language.data))
    if account is not None:
        flash(_("%(address)s is invited: we emailed them.", address=account.email))
        return redirect(url_for("people.index", community_id=community.id))
    return _page(community, form, 400)


def _grant_or_404(community: Community, grant_id: int):
    grant = roles.grant_or_none(community, grant_id)
    if grant is None:
        abort(404)
    return grant


def _act(community_id: int, community_coordinator_id: int, form, action, done: str):
    """Run `action(community, grant)` for a valid form, flash `done` or the refusal, back to the list."""
    community = community_or_404(community_id)
    grant = _grant_or_404(community, community_coordinator_id)
    if not form.validate_on_submit():
        abort(400)
    try:
        changed = action(community, grant)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        if changed is not False:
            flash(done)
    return redirect(url_for("people.index", community_id=community.id))


@bp.route("/people/<int:community_coordinator_id>/role", methods=["POST"])
@login_required
def change_role(community_id: int, community_coordinator_id: int):
    form = RoleForm()
    return _act(community_id, community_coordinator_id, form,
                lambda community, grant: roles.change_role(current_user, community, grant, form.role.data),
                _("Role changed."))


@bp.route("/people/<int:community_coordinator_id>/remove", methods=["POST"])
@login_required
def remove(community_id: int, community_coordinator_id: int):
    return _act(community_id, community_coordinator_id, ConfirmForm(),
                lambda community, grant: roles.remove(current_user, community, grant),
                _("They no longer have a role in this community."))


@bp.route("/people/<int:community_coordinator_id>/invite-again", methods=["POST"])
@login_required
def invite_again(community_id: int, community_coordinator_id: int):
    return _act(community_id, community_coordinator_id, ConfirmForm(),
                lambda community, grant: roles.invite_again(current_user, community, grant),
                _("The invitation is sent again, with a new link."))


@bp.route("/step-back", methods=["POST"])
@login_required
def step_back(community_id: int):
    community = community_or_404(community_id)
    form = StepBackForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        roles.step_back(current_user, community, form.keep_read_only.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("people.index", community_id=community.id))
    db.session.commit()
    flash(_("The community is in its leaders' hands: its mail now goes out under their names."))
    if community_for(current_user, community.id):  # kept read-only access
        return redirect(url_for("communities.show", community_id=community.id))
    return redirect(url_for("communities.index"))


@bp.route("/step-back/undo", methods=["POST"])
@login_required
def undo_step_back(community_id: int):
    community = community_or_404(community_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        roles.undo_step_back(current_user, community)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("The TTA coordinator coordinates this community again."))
    return redirect(url_for("people.index", community_id=community.id))
