"""Periodic: queues the monthly health summaries that are due (enqueued every minute by jobs.cron)."""
from jobs.context import job_context


def queue_due() -> int:
    from service.health_summaries import queue_due as queue_due_summaries
    with job_context():
        return queue_due_summaries()
