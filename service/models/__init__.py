"""SQLAlchemy models, one module per aggregate; imported here so Alembic sees them all."""
from service.models.announcements import Announcement
from service.models.audit import AuditEvent
from service.models.communities import Community, CommunityCoordinator, Organization
from service.models.conversations import Conversation, ConversationMute, Post, PostAttachment
from service.models.coordinators import Coordinator
from service.models.facilitation import FacilitatorSwap
from service.models.health import FiguresKept, FiguresStamp, FiguresTouched, HealthMonth
from service.models.forms import Charter, CharterVote, FormAnswer, FormRequest, FormResponse, IntakeEntry
from service.models.imports import MemberImport
from service.models.imap_mailbox import ImapMailboxState
from service.models.inbound import InboundMessage
from service.models.lessons import DigestIssue, Lesson, LessonModule, Practice
from service.models.meetings import Invitation, Meeting, MeetingSeries, Reminder
from service.models.members import Member, Membership
from service.models.outbox import BounceEvent, OutboundEmail, Suppression

__all__ = [
    "Announcement", "AuditEvent", "BounceEvent", "Conversation", "ConversationMute", "Post", "PostAttachment", "FacilitatorSwap", "Charter", "CharterVote", "FormAnswer", "FormRequest", "FormResponse",
    "FiguresKept", "FiguresStamp", "FiguresTouched", "HealthMonth", "ImapMailboxState", "InboundMessage", "IntakeEntry", "Community", "CommunityCoordinator", "Coordinator", "Member",
    "DigestIssue", "Invitation", "Lesson", "LessonModule", "Meeting", "MeetingSeries", "Practice", "MemberImport", "Membership", "Reminder", "Organization", "OutboundEmail", "Suppression",
]
