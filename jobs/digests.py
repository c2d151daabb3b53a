"""Periodic: issues the lesson digests that are due, and the daily conversations digests (enqueued every minute
by jobs.cron)."""
from jobs.context import job_context


def tick() -> dict:
    from service.conversations.digest import queue_due as queue_conversation_digests
    from service.digests import tick as issue_due_digests
    with job_context():
        return {"lesson_digests": issue_due_digests(), "conversation_digests": queue_conversation_digests()}
