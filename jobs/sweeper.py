"""Periodic: puts back on the queue whatever the database says is due but Redis lost."""
from jobs.context import job_context


def sweep() -> dict:
    from service.delivery import sweep as sweep_outbox
    with job_context():
        return {"outbox": sweep_outbox()}
