"""SQLAlchemy models, one module per aggregate; imported here so Alembic sees them all."""
from service.models.audit import AuditEvent
from service.models.communities import Community, CommunityCoordinator, Organization
from service.models.coordinators import Coordinator
from service.models.facilitation import FacilitatorSwap
from service.models.health import FiguresKept, FiguresStamp, HealthMonth
from service.models.forms import Charter, CharterVote, FormAnswer, FormRequest, FormResponse, IntakeEntry
from service.models.imports import MemberImport
from service.models.imap_mailbox import ImapMailboxState
from service.models.inbound import InboundMessage
from service.models.lessons import DigestIssue, Lesson, LessonModule, Practice
from service.models.meetings import Invitation, Meeting, Reminder
from service.models.members import Member, Membership
from service.models.outbox import BounceEvent, OutboundEmail, Suppression

__all__ = [
    "AuditEvent", "BounceEvent", "FacilitatorSwap", "Charter", "CharterVote", "FormAnswer", "FormRequest", "FormResponse",
    "FiguresKept", "FiguresStamp", "HealthMonth", "ImapMailboxState", "InboundMessage", "IntakeEntry", "Community", "CommunityCoordinator", "Coordinator", "Member",
    "DigestIssue", "Invitation", "Lesson", "LessonModule", "Meeting", "Practice", "MemberImport", "Membership", "Reminder", "Organization", "OutboundEmail", "Suppression",
]
