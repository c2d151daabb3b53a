"""Periodic: puts back on the queue whatever the database says is due but Redis lost."""
from jobs.context import job_context


def sweep() -> dict:
    from service.scheduled_work import sweep_all
    with job_context():
        return sweep_all()
