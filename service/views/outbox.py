"""Dashboard: the Outbox: every email queued or sent, and in embedded mode the message itself (and a reply to it
tried as its member would send it)."""
import smtplib
from functools import lru_cache

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale, gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from forms.member import ConfirmForm
from forms.tried_reply import TriedReplyForm
from service.extensions import db

from service import bounces, figures_stamp, labels, members, moments, normalize, outbox, outbox_counts, outbox_rows
from service.communities import visible_communities_query
from service.inbound import tried_replies
from service.mailsink import find_captured
from service.models import Community
from service.models.outbox import OUTBOX_STATUSES
from service.time_zones import zone_name
from service.views import kept_outbox
from service.views.helpers import community_or_404, sandboxed_html
from service.views.row_links import row_url

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
SEARCH_MAX_LENGTH = 200



@bp.route("/")
@login_required
def index():
    status, kind, community_id, search = _filters(request.args)
    page_number = max(request.args.get("page", 1, type=normalize.database_id) or 1, 1)
    visible = db.session.execute(figures_stamp.with_versions(visible_communities_query(current_user))).all()
    communities = [community for community, _version in visible]
    query = outbox.filtered(current_user, status, kind, community_id, search,
                            community_ids=[community.id for community in communities])
    rows, has_next = outbox.page(outbox_rows.with_language(query), page_number)
    figures = outbox_counts.figures(current_user, visible)
    total = outbox_counts.matching(figures, query, status, narrowed_further=bool(kind or community_id or search))
    language = str(get_locale() or "en")
    shown = tuple(kept_outbox.rows_html(rows, visible, language,
                                        lambda missing: _shown(outbox_rows.listed(missing, communities))))
    shows = {"rows": shown, "has_next": has_next, "page": page_number,
             "first": (page_number - 1) * outbox.PAGE_SIZE + 1, "total": total,
             "matching": total if status or kind or community_id or search else None, "q": search,
             "status": status, "kind": kind, "community_id": community_id, "counts": figures.counts}

    def render() -> str:
        return render_template("outbox/_body.html", communities=communities, **_choices(language), form=ConfirmForm(),
                               problem=figures.problem, **shows)
    # With delivery stopped the page shows the server's words and when mail is tried again: written each time.
    body = Markup(render()) if figures.problem else kept_outbox.body(language, communities, shows, render)
    return render_template("outbox/index.html", body=body)


@lru_cache(maxsize=8)
def _choices(language: str) -> dict:
    """The statuses and kinds with their labels in `language`, translated once per process (45 kinds' labels
    cost more than the page's rows)."""
    with force_locale(language):
        return {"statuses": [(s, str(labels.OUTBOX_STATUSES.get(s, s))) for s in OUTBOX_STATUSES],
                "kinds": [(k, str(labels.EMAIL_KINDS.get(k, k))) for k in outbox.kinds()]}


def _shown(listed: list[outbox_rows.ListedEmail]) -> list[Markup]:
    """Each listed email's table row, written here in one string: each label, time, zone and link is made once a
    page, and a page of rows in template markup cost more than the page's queries. Every value is escaped."""
    language = str(get_locale() or "en")
    choices = _choices(language)
    kinds, statuses = dict(choices["kinds"]), dict(choices["statuses"])
    show_url = row_url("outbox.show", "email_id")
    writers, zones = {}, {}
    result = []
    for item in listed:
        zone, email = item.time_zone, item.email
        if zone not in writers:
            writers[zone], zones[zone] = moments.writer(zone, language), escape(zone_name(zone, language))
        result.append(Markup(
            f'<tr><td><a href="{escape(show_url(email.id))}">{escape(writers[zone](item.queued_at))}</a> '
            f'<span class="zone">{zones[zone]}</span></td><td>{escape(kinds.get(email.kind, email.kind))}</td>'
            f'<td>{escape(item.subject)}</td><td>{escape(email.recipient)}</td>'
            f'<td><span class="badge {escape(email.status)}">{escape(statuses.get(email.status, email.status))}'
            f'</span></td><td>{int(email.attempts)}</td><td>{escape(email.last_error or "")}</td></tr>'))
    return result


def _filters(args) -> tuple[str | None, str | None, int | None, str]:
    status = args.get("status") if args.get("status") in OUTBOX_STATUSES else None
    return (status, normalize.text(args.get("kind")) or None, args.get("community", type=normalize.database_id) or None,
            normalize.text(args.get("q"))[:SEARCH_MAX_LENGTH])


@bp.route("/retry", methods=["POST"])
@login_required
def retry_failed():
    """Retry every failed email matching the current filters."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _status, kind, community_id, search = _filters(request.form)
    count = outbox.retry(current_user, outbox.filtered(current_user, "failed", kind, community_id, search))
    db.session.commit()
    flash(ngettext("%(num)d email will be sent again.", "%(num)d emails will be sent again.", count))
    return redirect(url_for("outbox.index", kind=kind, community=community_id, q=search or None))


@bp.route("/<int:email_id>/retry", methods=["POST"])
@login_required
def retry_one(email_id: int):
    email = _email_or_404(email_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    count = outbox.retry(current_user, outbox.filtered(current_user).where(outbox.OutboundEmail.id == email.id))
    db.session.commit()
    flash(_("The email will be sent again.") if count else _("Only failed emails can be retried."))
    return redirect(url_for("outbox.show", email_id=email.id))


@bp.route("/communities/<int:community_id>/memberships/<int:membership_id>/lift-bounce", methods=["POST"])
@login_required
def lift_bounce(community_id: int, membership_id: int):
    """Let mail reach a member suppressed for bouncing again (from the community page's list)."""
    community = community_or_404(community_id)
    membership = members.membership_in(community, membership_id)
    if membership is None:
        abort(404)
    member = membership.member
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not bounces.may_lift_suppression(current_user, member):
        flash(_("%(name)s also belongs to another coordinator's community: an administrator can send to them again.",
                name=membership.name), "error")
    elif bounces.lift_suppression(current_user, member):
        db.session.commit()
        flash(_("Email will reach %(name)s again.", name=membership.name))
    return redirect(url_for("communities.show", community_id=community.id))


def _email_or_404(email_id: int):
    email = outbox.email_for(current_user, email_id)
    if email is None:
        abort(404)
    return email


def _captured(email):
    if current_app.config["EMBEDDED_MAIL"] and email.message_id:
        return find_captured(current_app.config["MAIL_SINK_DIR"], email.message_id)
    return None


def _time_zone(email) -> str | None:
    """The zone the email's page shows its times in: its community's, or None (UTC, said so) without one."""
    community = db.session.get(Community, email.community_id) if email.community_id else None
    return community.time_zone if community else None


@bp.route("/<int:email_id>")
@login_required
def show(email_id: int):
    email = _email_or_404(email_id)
    captured = _captured(email)
    return render_template("outbox/show.html", email=email, captured=captured, form=ConfirmForm(),
                           time_zone=_time_zone(email), **_reply_as_member(email, captured, TriedReplyForm()))


def _reply_as_member(email, captured, form) -> dict:
    """What the page needs to offer "Reply as this member" (embedded mode, a message one can reply to)."""
    if not tried_replies.can_reply_as_member(email, captured):
        return {"reply_form": None, "tried": []}
    return {"reply_form": form, "tried": tried_replies.tried_replies(email)}


@bp.route("/<int:email_id>/reply-as-member", methods=["POST"])
@login_required
def reply_as_member(email_id: int):
    """Send a reply from the member's address through the embedded sink, as their mail client would."""
    email = _email_or_404(email_id)
    captured = _captured(email)
    if not tried_replies.can_reply_as_member(email, captured):
        abort(404)
    form = TriedReplyForm()
    if not form.validate_on_submit():
        return render_template("outbox/show.html", email=email, captured=captured, form=ConfirmForm(),
                               time_zone=_time_zone(email), **_reply_as_member(email, captured, form)), 400
    try:
        tried_replies.send_reply_as_member(email, captured, form.text.data)
    except (OSError, smtplib.SMTPException) as error:
        flash(_("The local mail sink did not take the reply (%(error)s). Is `make run` still running?",
                error=error), "error")
    else:
        flash(_("The reply was sent from the member's address. What was understood is listed below once the "
                "worker has read it: reload the page in a few seconds."))
    return redirect(url_for("outbox.show", email_id=email.id, _anchor="tried-replies"))


@bp.route("/<int:email_id>/html")
@login_required
def html_part(email_id: int):
    email = _email_or_404(email_id)
    if not current_app.config["EMBEDDED_MAIL"] or not email.message_id:
        abort(404)
    captured = find_captured(current_app.config["MAIL_SINK_DIR"], email.message_id)
    if captured is None or captured.html is None:
        abort(404)
    return sandboxed_html(captured.html)
