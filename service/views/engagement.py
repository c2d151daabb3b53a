"""Dashboard: one member's history in a community, the members who have gone quiet, and a check-in to one."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required

from forms.member import FREQUENCY_CHOICES, LANGUAGE_CHOICES, ConfirmForm
from service import engagement, moments, normalize
from service.conversations.choices import CHOICE_LABELS
from service.errors import DomainError
from service.extensions import db
from service.inbound.inbox_display import object_titles, understood
from service.views.helpers import community_or_404, membership_or_404

bp = Blueprint("engagement", __name__, url_prefix="/communities/<int:community_id>")
QUIET_PAGE_SIZE = 100  # rows of the gone-quiet list per page (each has its own check-in button)
HISTORY_PAGE_SIZE = 100  # entries of a member's history per page: years of digests would make thousands

# What each kind of email was, as the history names it.
EMAIL_KINDS = {
    "welcome": _l("Welcome"), "announcement": _l("Message to the community"), "check_in": _l("Personal check-in"),
    "meeting_invitation": _l("Meeting invitation"), "meeting_update": _l("Meeting update"),
    "meeting_cancelled": _l("Meeting cancelled"), "meeting_reminder": _l("Meeting reminder"),
    "feedback_request": _l("Feedback request"), "form_request": _l("Form"), "form_reminder": _l("Form reminder"),
    "charter_proposal": _l("Charter proposal"), "digest": _l("Lesson digest"),
    "digest_organization": _l("Lesson digest for the organization"),
    "reply_rsvp": _l("Answer to their reply"), "reply_charter": _l("Answer to their reply"),
    "reply_practice": _l("Answer to their reply"), "reply_comment": _l("Answer to their reply"),
    "reply_unclear": _l("Answer to their reply"),
}

PRACTICE_STATUSES = {"pending": _l("waiting for review"), "approved": _l("approved"), "declined": _l("declined")}


def _page(items: list, size: int) -> tuple[list, int, int]:
    """The asked-for page of `items` (the `page` argument, kept within range), its number, and how many pages."""
    pages = max(1, -(-len(items) // size))
    number = min(max(request.args.get("page", 1, type=normalize.database_id) or 1, 1), pages)
    return items[(number - 1) * size:number * size], number, pages


@bp.route("/members/<int:membership_id>")
@login_required
def member(community_id: int, membership_id: int):
    community = community_or_404(community_id)
    membership = membership_or_404(community, membership_id)
    entries, page, pages = _page(engagement.history(community, membership), HISTORY_PAGE_SIZE)
    replies = [entry.detail["message"] for entry in entries if entry.kind == "reply"]
    titles = object_titles(replies)
    return render_template("engagement/member.html", community=community, membership=membership,
                           member=membership.member, entries=entries, page=page, pages=pages,
                           local=moments.writer(community.time_zone, str(get_locale())),
                           understood=lambda message: understood(message, titles),
                           email_kind=lambda kind: EMAIL_KINDS.get(kind, kind),
                           practice_status=lambda status: PRACTICE_STATUSES.get(status, status),
                           language_name=dict(LANGUAGE_CHOICES), frequency_name=dict(FREQUENCY_CHOICES),
                           conversations_name=CHOICE_LABELS,
                           last_active=engagement.last_activity_of(community, membership.member_id),
                           next_check_in=engagement.next_check_in(community, membership.member_id),
                           confirm_form=ConfirmForm(), quiet_days=engagement.QUIET_DAYS)


@bp.route("/gone-quiet")
@login_required
def quiet(community_id: int):
    community = community_or_404(community_id)
    everyone = engagement.gone_quiet(community)
    quiet, page, pages = _page(everyone, QUIET_PAGE_SIZE)
    return render_template("engagement/quiet.html", community=community, total=len(everyone), page=page,
                           pages=pages, quiet=quiet,
                           local=moments.writer(community.time_zone, str(get_locale())), confirm_form=ConfirmForm(), quiet_days=engagement.QUIET_DAYS,
                           every_days=engagement.CHECK_IN_EVERY_DAYS)


@bp.route("/gone-quiet/<int:membership_id>/check-in", methods=["POST"])
@login_required
def check_in(community_id: int, membership_id: int):
    community = community_or_404(community_id)
    membership = membership_or_404(community, membership_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        engagement.send_check_in(current_user, community, membership)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("A check-in is on its way to %(name)s.", name=membership.name))
    if request.args.get("back") == "member":
        return redirect(url_for("engagement.member", community_id=community.id, membership_id=membership.id))
    return redirect(url_for("engagement.quiet", community_id=community.id,
                            page=request.args.get("page", type=normalize.database_id)))
