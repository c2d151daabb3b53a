"""Periodic: puts back on the queue whatever the database says is due but Redis lost."""
from jobs.context import job_context


def sweep() -> dict:
    from service.sweeper import sweep as sweep_outbox
    from service.form_requests import sweep as sweep_forms
    from service.meetings import sweep as sweep_meetings
    from service.inbound.store import sweep as sweep_inbound
    with job_context():
        return {"meetings": sweep_meetings(), "forms": sweep_forms(), "outbox": sweep_outbox(),
                "inbound": sweep_inbound()}
