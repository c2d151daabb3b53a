"""A member's own choices about a community's conversations: every message, the digest or none, and muting
one conversation. The preferences page and a command replied by email both call these."""
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import delete, select

from service import audit, clock, normalize
from service.errors import DomainError
from service.extensions import db
from service.models import Conversation, ConversationMute, Member, Membership
from service.models.conversations import CONVERSATION_CHOICES

# Each choice as the member's preferences page and the community's inbox name it.
CHOICE_LABELS = {"every": _l("Every message, as its own email"), "digest": _l("In the digest"),
                 "none": _l("No conversations")}


def set_choice(membership: Membership, choice: str, via: str) -> bool:
    """What the member receives of this community's conversations from now on; False when unchanged.

    Choosing the digest starts its window now, so the first digest brings only
    what the member did not already get as its own email. The caller commits.
    """
    if choice not in CONVERSATION_CHOICES:
        raise DomainError(_("Choose every message, a digest or no conversations."), "conversations")
    if membership.conversations == choice:
        return False
    audit.record(None, "member.conversations", "member", membership.member_id, membership.community_id,
                 by="the member", via=via, changes={"conversations": [membership.conversations, choice]})
    membership.conversations = choice
    if choice == "digest":
        membership.conversations_digest_at = clock.now()
    return True


def conversation_of(member: Member, conversation_id) -> Conversation | None:
    """The conversation, when it belongs to a community the member is in; None for anything else (another
    community's conversation is never named to them)."""
    try:
        conversation = db.session.get(Conversation, normalize.database_id(conversation_id))
    except (TypeError, ValueError):
        return None
    if conversation is None or not db.session.scalar(select(Membership.id).where(
            Membership.member_id == member.id, Membership.community_id == conversation.community_id)):
        return None
    return conversation


def is_muted(member: Member, conversation: Conversation) -> bool:
    return db.session.scalar(select(ConversationMute.id).where(
        ConversationMute.member_id == member.id, ConversationMute.conversation_id == conversation.id)) is not None


def mute(member: Member, conversation: Conversation, via: str) -> bool:
    """Stop this conversation's posts reaching the member (by email and in digests); False if it already was."""
    if is_muted(member, conversation):
        return False
    db.session.add(ConversationMute(member_id=member.id, conversation_id=conversation.id))
    audit.record(None, "member.mute", "member", member.id, conversation.community_id, by="the member", via=via,
                 conversation_id=conversation.id)
    return True


def unmute(member: Member, conversation: Conversation, via: str) -> bool:
    """Let this conversation's posts reach the member again; False if it was not muted."""
    if not is_muted(member, conversation):
        return False
    db.session.execute(delete(ConversationMute).where(ConversationMute.member_id == member.id,
                                                      ConversationMute.conversation_id == conversation.id))
    audit.record(None, "member.unmute", "member", member.id, conversation.community_id, by="the member", via=via,
                 conversation_id=conversation.id)
    return True
