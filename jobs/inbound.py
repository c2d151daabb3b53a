"""Processes one received message (stored first by service.inbound.store)."""
from jobs.context import job_context


def process(inbound_id: int) -> str:
    from service.inbound.process import process as process_message
    with job_context():
        return process_message(inbound_id)
