"""Delivers a batch of outbox rows and schedules the retries it needs."""
from datetime import datetime

from jobs.context import job_context


def deliver(ids: list[int]) -> dict:
    from service.delivery import deliver_batch
    from service.queue import get_queue
    with job_context():
        outcome = deliver_batch(ids)
        retries: dict[datetime, list[int]] = outcome.pop("retry")
        queue = get_queue()
        for when, retry_ids in retries.items():
            queue.enqueue_at(when, "jobs.delivery.deliver", retry_ids)
        return {**outcome, "retrying": sum(len(v) for v in retries.values())}
