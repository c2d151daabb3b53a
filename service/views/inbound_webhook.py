"""`POST /inbound/mail`: a provider's inbound webhook (or a forwarding script) hands us one raw message.

One shape only: the request body is the message exactly as received (RFC
5322 bytes, `Content-Type: message/rfc822`), `?to=` optionally names the
address it was delivered to and `?from=` the envelope sender. The caller
proves itself with INBOUND_WEBHOOK_SECRET, as `Authorization: Bearer SECRET`
or `X-Inbound-Secret: SECRET`; while the setting is empty the endpoint does
not exist (404). Answers: 202 stored, 200 received before (the same
Message-ID), 401 wrong or missing secret, 413 over INBOUND_MAX_BYTES, 415
a form instead of a raw message, 503 the database is down (try again); in
every refusal nothing is stored.
"""
import hmac

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy.exc import DBAPIError

from service.extensions import csrf, limiter
from service.inbound.store import TooLarge, receive
from service.normalize import text as clean_text

bp = Blueprint("inbound_webhook", __name__)
csrf.exempt(bp)  # no browser session here: the shared secret authenticates the caller

FAILED_SECRET_LIMIT = "10 per minute"
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded", "application/json")


def _rate_limit() -> str:
    return current_app.config["INBOUND_WEBHOOK_RATE_LIMIT"]


@bp.route("/inbound/mail", methods=["POST"])
@limiter.limit(_rate_limit)
@limiter.limit(FAILED_SECRET_LIMIT, deduct_when=lambda response: response.status_code == 401)
def receive_mail():
    secret = current_app.config["INBOUND_WEBHOOK_SECRET"]
    if not secret:
        abort(404)
    if not _presented_secret_matches(secret):
        return _answer(401, "a valid secret is required (Authorization: Bearer or X-Inbound-Secret)",
                       {"WWW-Authenticate": 'Bearer realm="inbound mail"'})
    if request.mimetype in FORM_TYPES:
        return _answer(415, "send the raw message as the request body (Content-Type: message/rfc822), "
                            "not a form")
    limit = current_app.config["INBOUND_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        return _answer(413, f"the message is over the limit of {limit} bytes")
    request.max_content_length = limit + 1  # not the app's limit for forms: a message may be larger
    raw = request.stream.read(limit + 1)
    if not raw.strip():
        return _answer(400, "the request body is empty; it must be the raw message")
    try:
        row, new = receive(raw, clean_text(request.args.get("to", ""))[:254], "webhook",
                           clean_text(request.args.get("from", ""))[:254])
    except TooLarge:
        return _answer(413, f"the message is over the limit of {limit} bytes")
    except DBAPIError:
        current_app.logger.warning("webhook message not stored: the database is unavailable")
        return _answer(503, "cannot store the message now; try again later")
    if new:
        return _answer(202, "stored; processing queued", id=row.id)
    return _answer(200, "already received", id=row.id)


def _presented_secret_matches(secret: str) -> bool:
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    presented = token.strip() if scheme.lower() == "bearer" else request.headers.get("X-Inbound-Secret", "")
    return bool(presented) and hmac.compare_digest(presented.encode(), secret.encode())


def _answer(status: int, message: str, headers: dict | None = None, **fields):
    return jsonify(status="ok" if status < 300 else "refused", message=message, **fields), status, \
        {"Cache-Control": "no-store", **(headers or {})}
