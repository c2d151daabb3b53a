"""Dashboard: the Outbox: every email queued or sent, and in embedded mode the message itself."""
from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user, login_required

from service import outbox
from service.mailsink import find_captured
from service.models.outbox import OUTBOX_STATUSES

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

# The HTML part of a captured email is shown in a sandboxed frame with no script, no
# network and no forms: members' text may be in it.
MESSAGE_PREVIEW_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'"


@bp.route("/")
@login_required
def index():
    status = request.args.get("status") if request.args.get("status") in OUTBOX_STATUSES else None
    kind = request.args.get("kind") or None
    page_number = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, has_next = outbox.page(outbox.filtered(current_user, status, kind), page_number)
    return render_template("outbox/index.html", rows=rows, has_next=has_next, page=page_number,
                           status=status, kind=kind, statuses=OUTBOX_STATUSES,
                           kinds=outbox.kinds(current_user), counts=outbox.status_counts(current_user))


def _email_or_404(email_id: int):
    email = outbox.email_for(current_user, email_id)
    if email is None:
        abort(404)
    return email


@bp.route("/<int:email_id>")
@login_required
def show(email_id: int):
    email = _email_or_404(email_id)
    captured = None
    if current_app.config["EMBEDDED_MAIL"] and email.message_id:
        captured = find_captured(current_app.config["MAIL_SINK_DIR"], email.message_id)
    return render_template("outbox/show.html", email=email, captured=captured)


@bp.route("/<int:email_id>/html")
@login_required
def html_part(email_id: int):
    email = _email_or_404(email_id)
    if not current_app.config["EMBEDDED_MAIL"] or not email.message_id:
        abort(404)
    captured = find_captured(current_app.config["MAIL_SINK_DIR"], email.message_id)
    if captured is None or captured.html is None:
        abort(404)
    response = current_app.response_class(captured.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = MESSAGE_PREVIEW_POLICY
    return response
