"""Periodic: issues the lesson digests that are due (enqueued every minute by jobs.cron)."""
from jobs.context import job_context


def tick() -> dict:
    from service.digests import tick as issue_due_digests
    with job_context():
        return issue_due_digests()
