"""Periodic (enqueued every minute by jobs.cron): counts again the recent health figures of the communities whose
data changed since they were counted (so pages seldom have to), and queues the monthly health summaries and the "needs you"
summaries that are due."""
from jobs.context import job_context


def tick() -> dict:
    from service.community_health import refresh_kept
    from service.health_summaries import queue_due
    from service.needs_you import queue_due as queue_needs
    with job_context():
        return {"communities_counted": refresh_kept(), "summaries_queued": queue_due(),
                "needs_summaries_queued": queue_needs()}
