"""A file attached to a community post, downloaded from the signed link in a copy or the archive (no login)."""
from flask import Blueprint, abort, current_app

from service.conversations import attachments
from service.extensions import limiter

bp = Blueprint("post_attachments", __name__, url_prefix="/m/files")
limiter.limit("60 per minute")(bp)


@bp.route("/<int:attachment_id>/<token>")
def download(attachment_id: int, token: str):
    attachment = attachments.attachment_for_link(attachment_id, token)
    if attachment is None:
        abort(404)
    response = current_app.response_class(attachment.data, mimetype=attachments.served_type(attachment))
    response.headers.set("Content-Disposition", "attachment", filename=attachment.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
