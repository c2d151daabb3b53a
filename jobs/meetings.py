"""Scheduled meeting work: one job per reminder (it fans out through the outbox) and the feedback request."""
from jobs.context import job_context


def send_reminder(reminder_id: int, due_timestamp: int) -> int:
    from service.meetings import send_reminder as send
    with job_context():
        return send(reminder_id, due_timestamp)


def request_feedback(meeting_id: int) -> int:
    from service.meetings import send_feedback_requests
    with job_context():
        return send_feedback_requests(meeting_id)
