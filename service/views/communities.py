"""Dashboard: my communities, one community's page, creating and editing a community."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from forms.community import CommunityForm
from forms.member import ConfirmForm
from service import (clock, communities, community_archive, facilitation, lifecycle, member_list, needs_you, outbox,
                     practices, roles)
from service.figures_stamp import Stamps
from service.inbound import inbox
from service.views import community_health as health_view
from service.views import kept_pages
from service.views.helpers import community_or_404, saved

bp = Blueprint("communities", __name__)


@bp.route("/")
@login_required
def index():
    visible = communities.visible_community_rows(current_user)
    ids = [row.id for row in visible]
    stamps = Stamps(ids, clock.now())  # read once: what changed since each community's figures were counted
    waiting = needs_you.waiting(ids, stamps=stamps)  # counted once for the overview and the list
    return render_template("communities/index.html", overview=health_view.overview(visible, waiting, stamps),
                           needs_you_list=_needs_you_list(needs_you.for_rows(visible, waiting)),
                           may_create=communities.is_staff(current_user, {row.role for row in visible}))


def _needs_you_list(waiting: list[needs_you.Waiting]) -> Markup:
    """The dashboard's "Needs you" list, rendered again only when a count, a name or the language changed (its
    links for 50 communities cost more than counting them)."""
    key = ("needs you", str(get_locale()), tuple(
        (block.community.id, block.community.name, tuple(sorted(block.counts.items()))) for block in waiting))
    return health_view.drawn(key, lambda: Markup(render_template("needs_you/_list.html", waiting=waiting)))


@bp.route("/communities/new", methods=["GET", "POST"])
@login_required
def create():
    if not communities.is_staff(current_user):
        flash(_("A leader's account runs its own community; ask the TTA program's staff to start a new one."),
              "error")
        return redirect(url_for("communities.index"))
    form = CommunityForm()
    community = saved(form, lambda: communities.create_community(current_user, **_fields(form)))
    if community is not None:
        flash(_("Community created."))
        return redirect(url_for("communities.show", community_id=community.id))
    return render_template("communities/form.html", form=form, community=None), 400 if form.errors else 200


@bp.route("/communities/<int:community_id>")
@login_required
def show(community_id: int):
    community = community_or_404(community_id)
    body = kept_pages.kept(community, "community page", (current_user.id, current_user.is_admin),
                           lambda: _body(community), until=lambda moment: _changes_by_time(community, moment))
    return render_template("communities/show.html", community=community, body=body)


def _body(community) -> str:
    return render_template("communities/_body.html", community=community,
                           members_summary=member_list.summary(community),
                           organizations=communities.organizations(community),
                           not_receiving=outbox.members_not_receiving(community),
                           pending_practices=practices.pending_count(community),
                           replies_waiting=inbox.needing_a_person(community),
                           people=roles.section(current_user, community),
                           lifecycle=lifecycle.checklist(community),
                           facilitation=facilitation.overview(community),
                           health=health_view.section(community),
                           export_panel=community_archive.panel(current_user, community),
                           needs=needs_you.for_community(current_user, community),
                           confirm_form=ConfirmForm())


def _changes_by_time(community, moment):
    """When the community page rendered at `moment` changes by time alone: a meeting starts or a digest issue
    stops counting as recent (service/lifecycle.py), or the health section's kept months run out (when they were
    not kept at the current stamp, they are counted again with the page: it is not kept)."""
    stamps = Stamps([community.id], moment)
    if not stamps.months_hold(community.id):
        return moment
    months_until = clock.aware(stamps.kept[community.id].months_until)
    return min(filter(None, (lifecycle.next_change(community, moment), months_until)))


@bp.route("/communities/<int:community_id>/edit", methods=["GET", "POST"])
@login_required
def edit(community_id: int):
    community = community_or_404(community_id)
    form = CommunityForm(obj=community)
    if saved(form, lambda: communities.update_community(current_user, community, **_fields(form))) is not None:
        flash(_("Changes saved."))
        return redirect(url_for("communities.show", community_id=community.id))
    return render_template("communities/form.html", form=form, community=community), 400 if form.errors else 200


def _fields(form: CommunityForm) -> dict:
    return {name: getattr(form, name).data
            for name in ("name", "description", "time_zone", "stage", "digest_cadence", "reminder_offsets",
                         "feedback_delay_hours", "moderation", "replies_to", "attachment_limit_kb")}
