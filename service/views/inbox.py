"""Dashboard: the inbox: what members wrote to a community, what was understood, and actions by hand.

Messages that reached no community (an address we could not read) are on an
admin-only page with the same layout; there a message can only be ignored or
processed again, since nobody can be named as its writer.
"""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from redis.exceptions import RedisError

from forms.inbox import InboxActionForm
from service import members, moments, normalize
from service.errors import DomainError
from service.extensions import db
from service.inbound import inbox
from service.inbound.inbox_display import coordinator_names, object_titles, raw_source, readable, understood
from service.models import Community, InboundMessage
from service.models.inbound import INBOUND_STATUSES
from service.views.helpers import community_or_404

bp = Blueprint("inbox", __name__)
EXCERPT_CHARS = 600  # of a message's words on the list; its own page shows them all


def _admin_or_404() -> None:
    if not current_user.is_admin:
        abort(404)


def _message_or_404(community: Community | None, message_id: int) -> InboundMessage:
    row = inbox.message_in(community, message_id)
    if row is None:
        abort(404)
    return row


@bp.route("/communities/<int:community_id>/inbox")
@login_required
def index(community_id: int):
    return _listing(community_or_404(community_id))


@bp.route("/inbox/unaddressed")
@login_required
def unaddressed():
    _admin_or_404()
    return _listing(None)


def _listing(community: Community | None):
    status = request.args.get("status") if request.args.get("status") in INBOUND_STATUSES else None
    page_number = max(request.args.get("page", 1, type=normalize.database_id) or 1, 1)
    rows, has_next = inbox.page(inbox.messages_of(community, status), page_number)
    if community is not None:
        here = lambda **args: url_for("inbox.index", community_id=community.id, **args)  # noqa: E731
    else:
        here = lambda **args: url_for("inbox.unaddressed", **args)  # noqa: E731
    return render_template("inbox/index.html", community=community, status=status, page=page_number, here=here,
                           has_next=has_next, statuses=INBOUND_STATUSES, counts=inbox.status_counts(community),
                           items=_items(community, rows, excerpt=True), form=InboxActionForm(formdata=None))


@bp.route("/communities/<int:community_id>/inbox/<int:inbound_message_id>")
@login_required
def show(community_id: int, inbound_message_id: int):
    community = community_or_404(community_id)
    return _message_page(community, _message_or_404(community, inbound_message_id))


@bp.route("/inbox/unaddressed/<int:inbound_message_id>")
@login_required
def show_unaddressed(inbound_message_id: int):
    _admin_or_404()
    return _message_page(None, _message_or_404(None, inbound_message_id))


def _message_page(community: Community | None, row: InboundMessage):
    return render_template("inbox/show.html", community=community, item=_items(community, [row])[0],
                           form=InboxActionForm(formdata=None))


def _items(community: Community | None, rows: list[InboundMessage], excerpt: bool = False) -> list[dict]:
    """What the templates show of each message: who, when, what was understood, the words, the choices."""
    titles, handlers = object_titles(rows), coordinator_names(rows)
    names = members.names_in(community) if community is not None else {}
    when = moments.writer(community.time_zone if community is not None else None, str(get_locale()))
    items = []
    for row in rows:
        needs_a_person = row.status in inbox.NEEDS_A_PERSON
        member = inbox.member_of(row) if needs_a_person or row.member_id else None
        meeting = inbox.answered_meeting(row, community) if needs_a_person and community is not None else None
        words = readable(inbox.words(row))
        if excerpt and len(words) > EXCERPT_CHARS:
            words = words[:EXCERPT_CHARS].rstrip() + "…"
        items.append({
            "row": row, "member": member, "words": words, "meeting": meeting, "actionable": needs_a_person,
            "name": names.get(member.id, member.name) if member is not None else None,
            "sent_by_member": inbox.sent_by(row, member),
            "when": when(row.received_at),
            "understood": understood(row, titles), "handled_by": handlers.get(row.handled_by_id),
            "open_meetings": inbox.open_meetings_for(community, member)
            if needs_a_person and meeting is None and member is not None and community is not None else [],
        })
    return items


@bp.route("/communities/<int:community_id>/inbox/<int:inbound_message_id>/act", methods=["POST"])
@login_required
def act(community_id: int, inbound_message_id: int):
    community = community_or_404(community_id)
    return _act(community, _message_or_404(community, inbound_message_id))


@bp.route("/inbox/unaddressed/<int:inbound_message_id>/act", methods=["POST"])
@login_required
def act_unaddressed(inbound_message_id: int):
    _admin_or_404()
    return _act(None, _message_or_404(None, inbound_message_id))


def _act(community: Community | None, row: InboundMessage):
    form = InboxActionForm()
    if not form.validate_on_submit():
        abort(400)
    message_id = row.id
    try:
        said = inbox.act(current_user, row, community, form.action.data, meeting_id=form.meeting_id.data,
                         sender_confirmed=form.sender_confirmed.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    except RedisError:  # committed; the sweeper enqueues a message still waiting to be read
        current_app.logger.warning("inbound message %s set to be processed again; Redis is down", message_id)
        flash(_("The message will be processed again within a few minutes."))
    else:
        flash(said)
    if form.back.data == "message":
        return redirect(url_for("inbox.show", community_id=community.id, inbound_message_id=message_id)
                        if community else url_for("inbox.show_unaddressed", inbound_message_id=message_id))
    return redirect(url_for("inbox.index", community_id=community.id) if community
                    else url_for("inbox.unaddressed"))


@bp.route("/communities/<int:community_id>/inbox/<int:inbound_message_id>/raw")
@login_required
def raw(community_id: int, inbound_message_id: int):
    community = community_or_404(community_id)
    return _raw(_message_or_404(community, inbound_message_id))


@bp.route("/inbox/unaddressed/<int:inbound_message_id>/raw")
@login_required
def raw_unaddressed(inbound_message_id: int):
    _admin_or_404()
    return _raw(_message_or_404(None, inbound_message_id))


def _raw(row: InboundMessage):
    """The message as it arrived, as plain text the browser shows and never interprets."""
    response = current_app.response_class(raw_source(row), mimetype="text/plain")
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    response.headers["Content-Disposition"] = f'inline; filename="message-{row.id}.txt"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
