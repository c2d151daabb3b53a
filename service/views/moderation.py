"""Dashboard: the posts that wait for a moderator in a community, and approving, retitling or declining each one
(service/conversations/moderation.py). Observers see the page; their changes are refused before any view runs
(service/views/people.py)."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale, gettext as _, ngettext
from flask_login import current_user, login_required

from forms.moderation import ApproveForm, DeclineForm
from service import members, moments, roles
from service.conversations import moderation
from service.errors import DomainError
from service.extensions import db
from service.models import Community, Post
from service.views.helpers import community_or_404

bp = Blueprint("moderation", __name__, url_prefix="/communities/<int:community_id>/moderation")


def _post_or_404(community: Community, post_id: int) -> Post:
    """The post if it belongs to this (visible) community; 404 for any other id."""
    post = moderation.post_in(community, post_id)
    if post is None:
        abort(404)
    return post


def _page(community: Community, failed: Post | None = None, form=None, status: int = 200):
    """The page; `form` is the one that failed for post `failed`, shown with its errors."""
    recent = moderation.recently_moderated(community)
    return render_template(
        "moderation/index.html", community=community, waiting=moderation.waiting_posts(community), recent=recent,
        names=members.names_in(community), moderators=moderation.moderator_names(recent),
        read_only=roles.is_read_only(current_user, community.id), failed_id=failed.id if failed else None,
        failed_form=form, approve_form=ApproveForm(), decline_form=DeclineForm(),
        local=moments.writer(community.time_zone, str(get_locale()))), status


def _back(community: Community):
    return redirect(url_for("moderation.index", community_id=community.id))


def _already(post: Post):
    name = moderation.moderator_names([post]).get(post.moderated_by_id, "")
    if post.status == "published":
        flash(_("“%(subject)s” was already approved by %(name)s: nothing changed.", subject=post.subject, name=name))
    else:
        flash(_("“%(subject)s” was already declined by %(name)s: nothing changed.", subject=post.subject, name=name))


@bp.route("/")
@login_required
def index(community_id: int):
    return _page(community_or_404(community_id))


@bp.route("/<int:post_id>/approve", methods=["POST"])
@login_required
def approve(community_id: int, post_id: int):
    form = ApproveForm()
    return _moderate(community_id, post_id, form, "subject",
                     lambda post: moderation.approve(current_user, post, via="page", subject=form.subject.data),
                     lambda post, copies: ngettext("Approved “%(subject)s”: it goes to %(num)d member.",
                                                   "Approved “%(subject)s”: it goes to %(num)d members.", copies,
                                                   subject=post.subject))


@bp.route("/<int:post_id>/subject", methods=["POST"])
@login_required
def subject(community_id: int, post_id: int):
    form = ApproveForm()
    return _moderate(community_id, post_id, form, "subject",
                     lambda post: moderation.edit_subject(current_user, post, form.subject.data),
                     lambda post, changed: _("Subject saved. The post still waits.") if changed
                     else _("The subject is unchanged."))


@bp.route("/<int:post_id>/decline", methods=["POST"])
@login_required
def decline(community_id: int, post_id: int):
    form = DeclineForm()
    return _moderate(community_id, post_id, form, "reason",
                     lambda post: moderation.decline(current_user, post, form.reason.data, via="page"),
                     lambda post, _result: _("Declined “%(subject)s”. Its author is told why; nobody else "
                                             "receives it.", subject=post.subject))


def _moderate(community_id: int, post_id: int, form, field: str, act, said):
    """What each of the page's buttons does around its own action: the post of this community (404 otherwise),
    the form checked, the action (`act(post)`), a post someone moderated meanwhile said so and left as it is, a
    refusal shown beside `field`, and `said(post, result)` flashed once it is committed."""
    community = community_or_404(community_id)
    post = _post_or_404(community, post_id)
    if not form.validate_on_submit():
        return _page(community, post, form, 400)
    try:
        result = act(post)
    except moderation.Moderated as done:
        db.session.rollback()
        _already(done.post)
        return _back(community)
    except DomainError as error:
        db.session.rollback()
        form[field].errors = [*form[field].errors, error.message]
        return _page(community, post, form, 400)
    db.session.commit()
    flash(said(post, result))
    return _back(community)
