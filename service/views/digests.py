"""Dashboard: a community's lesson digest: settings, preview as any member, a test to myself, history."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from forms.digest import DigestSettingsForm, PreviewForm, SendNowForm
from service import digest_schedule, digests, normalize
from service.errors import DomainError
from service.extensions import db
from service.models import Lesson, Member, Membership
from service.views.helpers import community_or_404, sandboxed_html, show_domain_error

bp = Blueprint("digests", __name__, url_prefix="/communities/<int:community_id>/digest")


def _lesson_choices():
    lessons = db.session.scalars(select(Lesson).order_by(Lesson.title_en)).all()
    return [(0, _("(no lesson: practices and meetings only)"))] + [(lesson.id, lesson.title_en) for lesson in lessons]


def _member_choices(community):
    rows = db.session.execute(select(Membership.id, Membership.name, Member.email).join(Member).where(
        Membership.community_id == community.id, Membership.status == "active").order_by(Membership.name)).all()
    return [(row.id, f"{row.name} <{row.email}>") for row in rows]


@bp.route("/", methods=["GET", "POST"])
@login_required
def settings(community_id: int):
    community = community_or_404(community_id)
    form = DigestSettingsForm(obj=community)
    form.lesson_id.choices = _lesson_choices()
    if request.method == "GET":
        form.lesson_id.data = community.lesson_id or 0
    if form.validate_on_submit():
        try:
            digests.update_settings(current_user, community, enabled=form.digest_enabled.data,
                                    lesson_id=form.lesson_id.data or None, cadence=form.digest_cadence.data,
                                    weekday=form.digest_weekday.data, hour=form.digest_hour.data)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("Digest settings saved."))
            return redirect(url_for("digests.settings", community_id=community.id))
    preview_form = PreviewForm()
    preview_form.membership_id.choices = _member_choices(community)
    return render_template("digests/settings.html", community=community, form=form, preview_form=preview_form,
                           send_now_form=SendNowForm(), send_now_minutes=digests.SEND_NOW_WINDOW.seconds // 60,
                           upcoming=digest_schedule.next_issue_local(community),
                           history=digests.history(community)), 400 if form.errors else 200


def _membership_or_404(community, membership_id):
    """The chosen member's membership here; without a choice, the first active member."""
    query = select(Membership).where(Membership.community_id == community.id)
    if membership_id is None:
        query = query.where(Membership.status == "active").order_by(Membership.id).limit(1)
    else:
        query = query.where(Membership.id == membership_id)
    membership = db.session.scalar(query)
    if membership is None:
        abort(404)
    return membership


@bp.route("/preview")
@login_required
def preview(community_id: int):
    community = community_or_404(community_id)
    membership = _membership_or_404(community, request.args.get("membership_id", type=normalize.database_id))
    text, _html, subject = digests.preview(community, membership.member)
    return render_template("digests/preview.html", community=community, membership=membership, text=text,
                           subject=subject, form=PreviewForm())


@bp.route("/preview.html")
@login_required
def preview_html(community_id: int):
    community = community_or_404(community_id)
    membership = _membership_or_404(community, request.args.get("membership_id", type=normalize.database_id))
    _text, html, _subject = digests.preview(community, membership.member)
    return sandboxed_html(html)


@bp.route("/test", methods=["POST"])
@login_required
def send_test(community_id: int):
    community = community_or_404(community_id)
    form = PreviewForm()
    form.membership_id.choices = _member_choices(community)
    if not form.validate_on_submit():
        abort(400)
    membership = _membership_or_404(community, form.membership_id.data)
    digests.send_test_copy(current_user, community, membership)
    db.session.commit()
    flash(_("A test copy is on its way to %(address)s.", address=current_user.email))
    return redirect(url_for("digests.settings", community_id=community.id))


@bp.route("/send-now", methods=["POST"])
@login_required
def send_now(community_id: int):
    """Send the next issue to every reader now (observers never get here: service.views.people)."""
    community = community_or_404(community_id)
    if not SendNowForm().validate_on_submit():
        abort(400)
    try:
        issue, queued = digests.send_issue_now(current_user, community)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Issue %(number)d is on its way: %(count)d emails queued.", number=issue.number, count=queued))
    return redirect(url_for("digests.settings", community_id=community.id))
