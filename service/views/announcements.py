"""Dashboard: write a message to a community's members: preview it, test it, send it now or at a chosen time."""
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale, gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from forms import choices
from forms.announcement import AnnouncementForm, CancelAnnouncementForm, ScheduledAnnouncementForm
from forms.intake import LANGUAGE_CHOICES
from service import announcements, bilingual, labels, meetings, moments
from service.clock import aware
from service.errors import DomainError
from service.extensions import db
from service.member_list import organizations_here
from service.models import Announcement, Community
from service.models.members import ROLES
from service.views.helpers import community_or_404, sandboxed_html, show_domain_error

bp = Blueprint("announcements", __name__, url_prefix="/communities/<int:community_id>/announcements")

SEND_FIELDS = ("send_date", "send_time")


def _offer_audience(form: AnnouncementForm, community: Community) -> None:
    """The organizations, roles and languages a message can be aimed at."""
    form.organization_ids.choices = choices(organizations_here(community))
    form.roles.choices = choices((role, labels.ROLES.get(role, role)) for role in ROLES)
    form.languages.choices = choices(LANGUAGE_CHOICES)


def _send_at(form: AnnouncementForm, community: Community):
    """The form's local day and time as UTC, or None when it goes now."""
    if form.send_date.data is None or form.send_time.data is None:
        return None
    return meetings.to_utc(community, form.send_date.data, form.send_time.data, SEND_FIELDS)


def _local(community: Community, moment) -> str:
    """A moment as the coordinator reads it, in the community's zone."""
    return moments.text(moment, community.time_zone, str(get_locale()), "moment")


@bp.route("/new", methods=["GET", "POST"])
@login_required
def compose(community_id: int):
    community = community_or_404(community_id)
    form = AnnouncementForm()
    _offer_audience(form, community)
    shown = None  # the preview, after the Preview button
    if form.validate_on_submit():
        try:
            chosen = announcements.audience(community, **form.chosen())
            if form.preview.data:
                draft = announcements.save_draft(current_user, community, form.subject.data, form.body.data,
                                                 form.nonce.data, chosen, **_spanish(form))
                shown = _preview(draft)
            elif form.test.data:
                member = announcements.send_test_copy(current_user, community, form.subject.data, form.body.data,
                                                      chosen, **_spanish(form))
                flash(_("A test copy, as %(name)s gets it, is on its way to %(address)s. Its links do nothing.",
                        name=member.name, address=current_user.email))
            else:
                send_at = _send_at(form, community) if form.schedule.data else None
                queued = announcements.send_announcement(current_user, community, form.subject.data,
                                                         form.body.data, form.nonce.data, chosen, send_at,
                                                         **_spanish(form))
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            if form.schedule.data:
                flash(_("Your message will go on %(when)s.", when=_local(community, _send_at(form, community))))
                return redirect(url_for("announcements.compose", community_id=community.id))
            if not form.preview.data and not form.test.data:
                flash(ngettext("Your message is on its way to %(num)d member.",
                               "Your message is on its way to %(num)d members.", queued) if queued
                      else _("This message was already sent."))
                return redirect(url_for("outbox.index", kind="announcement"))
    chosen_now = _audience_or_everyone(form, community)
    return render_template("announcements/compose.html", form=form, community=community,
                           recipients=announcements.recipient_count(community, chosen_now),
                           everyone=announcements.recipient_count(community), preview=shown,
                           waiting=announcements.scheduled(community), local=lambda m: _local(community, m),
                           readers=bilingual.readers(community),
                           cancel_form=CancelAnnouncementForm()), 400 if form.errors else 200


def _spanish(form: AnnouncementForm) -> dict:
    """The form's Spanish subject and message, as the domain functions take them."""
    return {"subject_es": form.subject_es.data or "", "body_es": form.body_es.data or ""}


def _audience_or_everyone(form: AnnouncementForm, community: Community) -> dict | None:
    """The audience the form shows, for its count; everyone when what it holds is not valid."""
    try:
        return announcements.audience(community, **form.chosen())
    except (DomainError, TypeError, ValueError):
        return None


def _preview(announcement: Announcement) -> dict:
    """What the page shows of a kept message: as whom, its subject and text part, and where its HTML part is."""
    member, email = announcements.rendered(announcement)
    return {"member": member, "subject": email.subject, "text": email.text, "announcement": announcement,
            "html_url": url_for("announcements.preview_html", community_id=announcement.community_id,
                                announcement_id=announcement.id)}


def _kept_or_404(community: Community, announcement_id: int) -> Announcement:
    announcement = announcements.kept_in(community, announcement_id)
    if announcement is None:
        abort(404)
    return announcement


@bp.route("/<int:announcement_id>/preview.html")
@login_required
def preview_html(community_id: int, announcement_id: int):
    community = community_or_404(community_id)
    announcement = _kept_or_404(community, announcement_id)
    try:
        _member, email = announcements.rendered(announcement)
    except DomainError:  # the audience no longer reaches anyone
        abort(404)
    return sandboxed_html(email.html)


@bp.route("/<int:announcement_id>", methods=["GET", "POST"])
@login_required
def edit(community_id: int, announcement_id: int):
    """A scheduled message: its preview, and its text, audience and time changed before it goes."""
    community = community_or_404(community_id)
    announcement = announcements.scheduled_in(community, announcement_id)
    if announcement is None:
        abort(404)
    local = aware(announcement.send_at).astimezone(ZoneInfo(community.time_zone))
    form = ScheduledAnnouncementForm(data={
        **announcements.texts_of(announcement), "send_date": local.date(),
        "send_time": local.time().replace(second=0, microsecond=0), **announcement.audience})
    _offer_audience(form, community)
    if form.validate_on_submit():
        try:
            chosen = announcements.audience(community, **form.chosen())
            if form.test.data:
                member = announcements.send_test_copy(current_user, community, form.subject.data, form.body.data,
                                                      chosen, **_spanish(form))
                flash(_("A test copy, as %(name)s gets it, is on its way to %(address)s. Its links do nothing.",
                        name=member.name, address=current_user.email))
            else:
                announcements.update_scheduled(current_user, announcement, form.subject.data, form.body.data, chosen,
                                               _send_at(form, community), **_spanish(form))
                flash(_("Saved. It will go on %(when)s.", when=_local(community, announcement.send_at)))
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            return redirect(url_for("announcements.edit", community_id=community.id, announcement_id=announcement.id))
    try:
        shown = _preview(announcement)
    except DomainError:
        shown = None
    return render_template("announcements/scheduled.html", form=form, community=community,
                           announcement=announcement, preview=shown,
                           recipients=announcements.recipient_count(community, announcement.audience),
                           when=_local(community, announcement.send_at), readers=bilingual.readers(community),
                           cancel_form=CancelAnnouncementForm()), 400 if form.errors else 200


@bp.route("/<int:announcement_id>/cancel", methods=["POST"])
@login_required
def cancel(community_id: int, announcement_id: int):
    community = community_or_404(community_id)
    if not CancelAnnouncementForm().validate_on_submit():
        abort(400)
    announcement = db.session.scalar(db.select(Announcement).where(
        Announcement.id == announcement_id, Announcement.community_id == community.id))
    if announcement is None:
        abort(404)
    try:
        announcements.cancel_scheduled(current_user, announcement)
    except DomainError as error:
        db.session.rollback()
        flash(error.message)
    else:
        db.session.commit()
        flash(_("Cancelled: “%(subject)s” will not be sent.", subject=announcements.title(
            announcements.texts_of(announcement))))
    return redirect(url_for("announcements.compose", community_id=community.id))
