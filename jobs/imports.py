"""Runs a confirmed member import too large to run inside the web request."""
from jobs.context import job_context


def import_members(import_id: int) -> None:
    from service.extensions import db
    from service.member_import import run_import
    from service.models import MemberImport
    with job_context():
        record = db.session.get(MemberImport, import_id)
        if record is None or record.status not in ("queued", "running"):
            return
        try:
            run_import(record)
        except Exception:
            # The details go to the worker's log (RQ records the traceback); the page says only that it failed.
            db.session.rollback()
            record = db.session.get(MemberImport, import_id)
            record.status, record.error = "failed", "unexpected error"
            db.session.commit()
            raise
