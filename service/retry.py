"""When a delivery that did not succeed is tried again, and when it is given up."""
from datetime import datetime, timedelta

from flask import current_app

from service.clock import now

MAX_BACKOFF = timedelta(hours=6)


def backoff(attempts: int) -> datetime:
    """When to try again after `attempts` attempts: MAIL_RETRY_BASE_SECONDS, doubling each time, at most MAX_BACKOFF."""
    base = current_app.config["MAIL_RETRY_BASE_SECONDS"]
    delay = min(timedelta(seconds=base * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    return (now() + delay).replace(microsecond=0) + timedelta(seconds=1)


def outcome(attempts: int, error: str) -> dict:
    """The row's new values after a failed attempt: pending until its retry, or failed once MAIL_MAX_ATTEMPTS
    claims are spent."""
    if attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        return {"status": "failed", "last_error": f"gave up after {attempts} attempts: {error}"[:1000]}
    return {"status": "pending", "last_error": error[:1000], "next_attempt_at": backoff(attempts)}
