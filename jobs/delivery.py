"""Delivers a batch of outbox rows and schedules the retries it needs."""
import logging
from datetime import datetime

from jobs.context import job_context

log = logging.getLogger("jobs.delivery")


def deliver(ids: list[int]) -> dict:
    from service.delivery import deliver_batch
    from service.queue import get_queue
    with job_context():
        outcome = deliver_batch(ids)
        retries: dict[datetime, list[int]] = outcome.pop("retry")
        queue = get_queue()
        for when, retry_ids in retries.items():
            queue.enqueue_at(when, "jobs.delivery.deliver", retry_ids)
        result = {**outcome, "retrying": sum(len(v) for v in retries.values())}
        log.info("delivery of %d outbox rows: %s", len(ids),
                 ", ".join(f"{count} {what}" for what, count in result.items() if count) or "nothing to do")
        return result
