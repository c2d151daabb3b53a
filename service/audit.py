"""Writing the audit trail: every change a coordinator makes leaves one AuditEvent."""
from service.extensions import db
from service.models import AuditEvent, Coordinator


def record(actor: Coordinator | None, action: str, object_type: str, object_id: int | None,
           community_id: int | None = None, **details) -> AuditEvent:
    """Add an audit event to the current transaction (the caller commits)."""
    event = AuditEvent(
        coordinator_id=actor.id if actor else None,
        actor=actor.email if actor else "system",
        action=action, object_type=object_type, object_id=object_id,
        community_id=community_id, details=details,
    )
    db.session.add(event)
    return event
