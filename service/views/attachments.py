"""A member's attached file as a download, whichever page links it (a copy's signed link, the dashboard's thread,
a member's archive): never shown inline, never run, whatever it claims to be."""
from flask import current_app

from service.conversations import attachments
from service.models import PostAttachment

# Nothing in the response may load or run anything, should a browser still render it.
DOWNLOAD_POLICY = "default-src 'none'; sandbox"


def attachment_response(found: PostAttachment):
    response = current_app.response_class(found.data, mimetype=attachments.served_type(found))
    response.headers.set("Content-Disposition", "attachment", filename=found.filename or "attachment")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = DOWNLOAD_POLICY
    response.headers["Cache-Control"] = "private, no-store"
    return response
