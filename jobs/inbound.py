"""Processes one received message (stored first by service.inbound.store)."""
from jobs.context import job_context


def process(inbound_id: int) -> str:
    from service.inbound.process import process_with_waiting
    with job_context():
        return process_with_waiting(inbound_id)
