"""Dashboard: a community's conversations (searched, newest activity first) and one thread, read-only.

Coordinators, leaders and observers of the community read them; any other
account gets a 404. Waiting and declined posts are shown to them, labelled;
moderating them is not done here.
"""
from flask import Blueprint, abort, render_template, request
from flask_babel import get_locale
from flask_login import login_required

from service import moments
from service.conversations import archive
from service.conversations.addresses import community_address
from service.markdown_text import plain_text_html
from service.views.attachments import attachment_response
from service.views.helpers import community_or_404

bp = Blueprint("conversations", __name__, url_prefix="/communities/<int:community_id>/conversations")


def _when(community):
    return moments.writer(community.time_zone, str(get_locale()))


@bp.route("/")
@login_required
def index(community_id: int):
    community = community_or_404(community_id)
    result = archive.conversations_page(community, archive.criteria_from(request.args), published_only=False)
    return render_template("conversations/index.html", community=community, result=result,
                           when=_when(community),
                           community_address=community_address(community) if community.slug else "")


@bp.route("/<int:conversation_id>")
@login_required
def thread(community_id: int, conversation_id: int):
    community = community_or_404(community_id)
    found = archive.thread(community, conversation_id, published_only=False)
    if found is None:
        abort(404)
    return render_template("conversations/thread.html", community=community, thread=found,
                           when=_when(community), as_html=plain_text_html)


@bp.route("/attachments/<int:attachment_id>")
@login_required
def attachment(community_id: int, attachment_id: int):
    community = community_or_404(community_id)
    found = archive.attachment(community, attachment_id, published_only=False)
    if found is None:
        abort(404)
    return attachment_response(found)
