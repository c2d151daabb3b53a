"""Processes one received message (stored first by service.inbound.store)."""
from jobs.context import job_context


def process(inbound_id: int) -> str:
    from service.inbound.process import process_with_waiting
    with job_context():
        return process_with_waiting(inbound_id)


def poll_imap() -> str:
    """One pass over the IMAP mailbox (`python -m jobs.cron` enqueues it when INBOUND_IMAP_HOST is set)."""
    from service.inbound.imap_poll import poll_exclusively
    with job_context():
        result = poll_exclusively()
        return "another pass is running" if result is None else str(result)
