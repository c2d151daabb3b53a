"""Writing the audit trail: every change a coordinator makes leaves one AuditEvent."""
from sqlalchemy import insert

from service.extensions import db
from service.models import AuditEvent, Coordinator


def _event(actor: Coordinator | None, action: str, object_type: str, object_id: int | None,
           community_id: int | None, details: dict) -> dict:
    return {"coordinator_id": actor.id if actor else None, "actor": actor.email if actor else "system",
            "action": action, "object_type": object_type, "object_id": object_id, "community_id": community_id,
            "details": details}


def record(actor: Coordinator | None, action: str, object_type: str, object_id: int | None,
           community_id: int | None = None, **details) -> AuditEvent:
    """Add an audit event to the current transaction (the caller commits)."""
    event = AuditEvent(**_event(actor, action, object_type, object_id, community_id, details))
    db.session.add(event)
    return event


_INSERT = insert(AuditEvent.__table__)  # Core: no ORM object, no flush


def write(actor: Coordinator | None, action: str, object_type: str, object_id: int | None,
          community_id: int | None = None, **details) -> None:
    """Write an audit event into the current transaction now, in one statement (the caller commits).

    For a change written without the ORM (its objects already stored): no AuditEvent object, no flush.
    """
    db.session.execute(_INSERT, _event(actor, action, object_type, object_id, community_id, details))
