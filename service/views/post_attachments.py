"""A file attached to a community post, downloaded from the signed link in a copy or the archive (no login)."""
from flask import Blueprint, abort

from service.conversations import attachments
from service.extensions import limiter
from service.views.attachments import attachment_response

bp = Blueprint("post_attachments", __name__, url_prefix="/m/files")
limiter.limit("60 per minute")(bp)


@bp.route("/<int:attachment_id>/<token>")
def download(attachment_id: int, token: str):
    attachment = attachments.attachment_for_link(attachment_id, token)
    if attachment is None:
        abort(404)
    return attachment_response(attachment)
