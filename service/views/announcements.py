"""Dashboard: write a message to every active member of a community."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from forms.announcement import AnnouncementForm
from service import announcements, bilingual
from service.errors import DomainError
from service.extensions import db
from service.views.helpers import community_or_404, show_domain_error

bp = Blueprint("announcements", __name__, url_prefix="/communities/<int:community_id>/announcements")


@bp.route("/new", methods=["GET", "POST"])
@login_required
def compose(community_id: int):
    community = community_or_404(community_id)
    form = AnnouncementForm()
    if form.validate_on_submit():
        try:
            queued = announcements.send_announcement(current_user, community, form.subject.data,
                                                     form.body.data, form.nonce.data,
                                                     subject_es=form.subject_es.data, body_es=form.body_es.data)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(ngettext("Your message is on its way to %(num)d member.",
                           "Your message is on its way to %(num)d members.", queued) if queued
                  else _("This message was already sent."))
            return redirect(url_for("outbox.index", kind="announcement"))
    recipients = len(announcements.active_members(community))
    return render_template("announcements/compose.html", form=form, community=community,
                           recipients=recipients, readers=bilingual.readers(community)), 400 if form.errors else 200
