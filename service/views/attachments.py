"""A member's attached file as a download: never shown inline, never run, whatever it claims to be."""
from io import BytesIO

from flask import send_file

from service.models import PostAttachment

# Nothing in the response may load or run anything, should a browser still render it.
DOWNLOAD_POLICY = "default-src 'none'; sandbox"


def attachment_response(found: PostAttachment):
    response = send_file(BytesIO(found.data), mimetype="application/octet-stream", as_attachment=True,
                         download_name=found.filename or "attachment", max_age=0)
    response.headers["Content-Security-Policy"] = DOWNLOAD_POLICY
    response.headers["Cache-Control"] = "private, no-store"
    return response
