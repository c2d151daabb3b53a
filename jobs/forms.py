"""Scheduled form work: one reminder job per form request (it fans out through the outbox)."""
from jobs.context import job_context


def send_reminders(request_id: int, deadline_timestamp: int) -> int:
    from service.form_requests import send_reminders as send
    with job_context():
        return send(request_id, deadline_timestamp)
