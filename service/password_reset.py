"""Links that set a coordinator's password, emailed through the outbox: a reset, or an invitation's first password.

The outbox row holds only the coordinator's id: the link is signed when the
email is rendered, so no working link is ever stored. A link is single-use
and expires: it carries a fingerprint of the password hash it replaces, so
once a password is set (by this link, another one, or `flask users
password`) every earlier link reads as used; and it is signed with a salt of
its own kind (a reset link cannot be used as an invitation) and a timestamp
checked against the kind's max_age.
"""
import hashlib
from dataclasses import dataclass
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


class ResetLinkError(Exception):
    """The link cannot set a password; `reason` is "expired", "used", "disabled" or "invalid"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PasswordLink:
    """One kind of signed, expiring, single-use link that sets an account's password."""
    salt: str
    max_age: timedelta
    endpoint: str      # the page the link opens
    audit_action: str  # recorded when the link sets a password

    def _serializer(self) -> URLSafeTimedSerializer:
        # itsdangerous signs with the last key and accepts any: the fallbacks, then SECRET_KEY.
        keys = [*reversed(current_app.config.get("SECRET_KEY_FALLBACKS", ())), current_app.config["SECRET_KEY"]]
        return URLSafeTimedSerializer(keys, salt=self.salt)

    def url(self, coordinator: Coordinator) -> str:
        token = self._serializer().dumps({"c": coordinator.id, "f": _fingerprint(coordinator)})
        return public_url(self.endpoint, token=token)

    def coordinator_for(self, token: str) -> Coordinator:
        """The account a valid, unused link is for; ResetLinkError saying why not."""
        try:
            data = self._serializer().loads(token, max_age=int(self.max_age.total_seconds()))
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

    def use(self, token: str, password: str) -> Coordinator:
        """Set the password from a link (which it uses up) and end every session; the caller commits."""
        coordinator = db.session.get(Coordinator, self.coordinator_for(token).id, with_for_update=True,
                                     populate_existing=True)
        self.coordinator_for(token)  # again under the lock: two submissions of one link set one password
        set_password(coordinator, password)
        audit.record(coordinator, self.audit_action, "coordinator", coordinator.id)
        return coordinator

    @property
    def hours(self) -> int:
        return int(self.max_age.total_seconds() // 3600)


RESET = PasswordLink("coordinator-password-reset", timedelta(hours=24), "password_reset.reset",
                     "coordinator.password_reset")
# An invited person's first password (service.roles): a week, since they may not read the email at once.
INVITATION = PasswordLink("coordinator-invitation", timedelta(days=7), "password_reset.accept_invitation",
                          "coordinator.invitation_accepted")
MAX_AGE = RESET.max_age


def _fingerprint(coordinator: Coordinator) -> str:
    return hashlib.sha256(coordinator.password_hash.encode()).hexdigest()[:16]


def request_reset(coordinator: Coordinator, asked_by: str = "admin") -> int:
    """Queue the email with a reset link (sent after the caller commits); returns how many were queued (1).

    `asked_by` is "admin" (`flask users reset-password`) or "self" (the login page's "Forgot your password?"),
    which the email says. A disabled account gets none: it is enabled first.
    """
    if not coordinator.active:
        raise DomainError(f"{coordinator.email} is disabled; enable the account first.")
    moment = clock.now()
    key = f"password_reset:{coordinator.id}:{moment.isoformat()}"  # each request is a new email
    audit.record(None, "coordinator.password_reset_sent", "coordinator", coordinator.id, address=coordinator.email,
                 **({"asked_by": asked_by} if asked_by != "admin" else {}))
    context = {"coordinator_id": coordinator.id, **({"asked_by": asked_by} if asked_by != "admin" else {})}
    return queue_coordinator_email("password_reset", coordinator, key, context)


def reset_url(coordinator: Coordinator) -> str:
    return RESET.url(coordinator)


def account_for(row) -> Coordinator:
    """The active account an email about it (row.context["coordinator_id"]) is for, or DomainError."""
    coordinator = db.session.get(Coordinator, row.context["coordinator_id"])
    if coordinator is None or not coordinator.active:
        raise DomainError("the account no longer exists or is disabled")
    return coordinator


def email_extras(row) -> dict:
    """What the reset email needs at send time: the account, its language and a freshly signed link."""
    coordinator = account_for(row)
    return {"coordinator": coordinator, "language": coordinator.language, "reset_url": reset_url(coordinator),
            "hours": RESET.hours, "asked_by": row.context.get("asked_by", "admin")}

