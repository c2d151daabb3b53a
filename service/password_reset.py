"""Password reset links for coordinators: asked for by an administrator, sent through the outbox.

The outbox row holds only the coordinator's id: the link is signed when the
email is rendered, so no working link is ever stored. A link is single-use
and expires: it carries a fingerprint of the password hash it replaces, so
once a new password is set (by this link, another one, or `flask users
password`) every earlier link reads as used; and it is signed with a salt of
its own and a timestamp checked against MAX_AGE.
"""
import hashlib
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from service import audit, clock
from service.coordinators import set_password
from service.errors import DomainError
from service.extensions import db
from service.links import public_url
from service.mailer import queue_coordinator_email
from service.models import Coordinator

MAX_AGE = timedelta(hours=24)
SALT = "coordinator-password-reset"


class ResetLinkError(Exception):
    """The link cannot set a password; `reason` is "expired", "used", "disabled" or "invalid"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _serializer() -> URLSafeTimedSerializer:
    # itsdangerous signs with the last key and accepts any: the fallbacks, then SECRET_KEY.
    keys = [*reversed(current_app.config.get("SECRET_KEY_FALLBACKS", ())), current_app.config["SECRET_KEY"]]
    return URLSafeTimedSerializer(keys, salt=SALT)


def _fingerprint(coordinator: Coordinator) -> str:
    return hashlib.sha256(coordinator.password_hash.encode()).hexdigest()[:16]


def request_reset(coordinator: Coordinator) -> int:
    """Queue the email with a reset link (sent after the caller commits); returns how many were queued (1).

    A disabled account gets none: it is enabled first.
    """
    if not coordinator.active:
        raise DomainError(f"{coordinator.email} is disabled; enable the account first.")
    moment = clock.now()
    key = f"password_reset:{coordinator.id}:{moment.isoformat()}"  # each request is a new email
    audit.record(None, "coordinator.password_reset_sent", "coordinator", coordinator.id, address=coordinator.email)
    return queue_coordinator_email("password_reset", coordinator, key, {"coordinator_id": coordinator.id})


def reset_url(coordinator: Coordinator) -> str:
    token = _serializer().dumps({"c": coordinator.id, "f": _fingerprint(coordinator)})
    return public_url("password_reset.reset", token=token)


def email_extras(row) -> dict:
    """What the reset email needs at send time: the account, its language and a freshly signed link."""
    coordinator = db.session.get(Coordinator, row.context["coordinator_id"])
    if coordinator is None or not coordinator.active:
        raise DomainError("the account no longer exists or is disabled")
    hours = int(MAX_AGE.total_seconds() // 3600)
    return {"coordinator": coordinator, "language": coordinator.language, "reset_url": reset_url(coordinator),
            "hours": hours}


def coordinator_for(token: str) -> Coordinator:
    """The account a valid, unused link is for; ResetLinkError saying why not."""
    try:
        data = _serializer().loads(token, max_age=int(MAX_AGE.total_seconds()))
    except SignatureExpired:
        raise ResetLinkError("expired") from None
    except BadSignature:
        raise ResetLinkError("invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("c"), int) or not isinstance(data.get("f"), str):
        raise ResetLinkError("invalid")
    coordinator = db.session.get(Coordinator, data["c"])
    if coordinator is None:
        raise ResetLinkError("invalid")
    if data["f"] != _fingerprint(coordinator):
        raise ResetLinkError("used")
    if not coordinator.active:
        raise ResetLinkError("disabled")
    return coordinator


def reset(token: str, password: str) -> Coordinator:
    """Set the new password from a link (which it uses up) and end every session; the caller commits."""
    coordinator = db.session.get(Coordinator, coordinator_for(token).id, with_for_update=True, populate_existing=True)
    coordinator_for(token)  # again under the lock: two submissions of one link set one password
    set_password(coordinator, password)
    audit.record(coordinator, "coordinator.password_reset", "coordinator", coordinator.id)
    return coordinator
