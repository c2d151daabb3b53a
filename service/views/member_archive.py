"""A member's read-only archive of their community's conversations, from the signed link in its emails.

No login: the link is signed for one member and one community (its token
names both), so it opens that community's archive and no other. The pages
speak the language the community writes to the member in, show published
posts only, load nothing from elsewhere and ask search engines to keep out.
A member whose membership is no longer active gets a short page saying so,
and nothing of the conversations.
"""
from flask import Blueprint, abort, render_template, request

from service import moments
from service.conversations import archive
from service.conversations.addresses import community_address
from service.extensions import limiter
from service.markdown_text import plain_text_html
from service.views.attachments import attachment_response
from service.views.member_pages import bad_link, member_from_link, speak

bp = Blueprint("member_archive", __name__, url_prefix="/m/archive")
limiter.limit("60 per minute")(bp)


@bp.after_request
def _private(response):
    """The link is the key: keep it out of search engines, shared caches and other sites' logs."""
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _reader(token: str):
    """(community, membership) the link opens, or a response to return instead."""
    community_id = archive.community_named_by(token)
    member = member_from_link(archive.TOKEN_PURPOSE, token, object_id=community_id)
    if member is None or not community_id:
        return None, bad_link()
    community, membership = archive.reader_membership(community_id, member.id)
    if community is None:
        abort(404)
    if not archive.may_read(membership):
        return None, (render_template("member/archive_closed.html", community=community), 403)
    speak(membership.language)
    return (community, membership), None


@bp.route("/<token>")
def index(token: str):
    reader, refusal = _reader(token)
    if refusal:
        return refusal
    community, membership = reader
    result = archive.conversations_page(community, archive.criteria_from(request.args), published_only=True)
    return render_template("member/archive_index.html", community=community, result=result, token=token,
                           community_address=community_address(community),
                           when=moments.writer(community.time_zone, membership.language))


@bp.route("/<token>/<int:conversation_id>")
def thread(token: str, conversation_id: int):
    reader, refusal = _reader(token)
    if refusal:
        return refusal
    community, membership = reader
    found = archive.thread(community, conversation_id, published_only=True)
    if found is None:
        abort(404)
    return render_template("member/archive_thread.html", community=community, thread=found, token=token,
                           community_address=community_address(community),
                           when=moments.writer(community.time_zone, membership.language),
                           as_html=plain_text_html)


@bp.route("/<token>/attachments/<int:attachment_id>")
def attachment(token: str, attachment_id: int):
    reader, refusal = _reader(token)
    if refusal:
        return refusal
    found = archive.attachment(reader[0], attachment_id, published_only=True)
    if found is None:
        abort(404)
    return attachment_response(found)
