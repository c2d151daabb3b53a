"""A member's post to their community: it joins or starts a conversation, waits for a moderator when the
community's rules say so, and otherwise goes out at once (service/conversations/delivery.py)."""
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import select

from service import clock, normalize
from service.conversations import attachments, delivery, moderation, threads
from service.extensions import db
from service.models import Community, Conversation, Member, Membership, Post

MAX_SUBJECT = 200
MAX_TEXT = 50_000


def membership_of(community: Community, member: Member | None) -> Membership | None:
    """The member's active membership here, or None: only active members may post."""
    if member is None:
        return None
    return db.session.scalar(select(Membership).where(
        Membership.community_id == community.id, Membership.member_id == member.id,
        Membership.status == "active"))


def must_wait(community: Community, membership: Membership) -> bool:
    """Whether a post from this member waits for a moderator under the community's rules."""
    if community.moderation == "all":
        return True
    return community.moderation == "new" and not membership.posts_approved


def submit(community: Community, membership: Membership, subject: str, text: str, html: str = "",
           original_message_id: str = "", in_reply_to: str = "", references: list[str] | None = None,
           inbound_message_id: int | None = None, files: list | None = None) -> Post:
    """Record the post (in its conversation) with its attached `files` (attachments.File, already checked)
    and deliver it, or leave it waiting; the caller commits."""
    answered = threads.answered_post(community, in_reply_to, references or [])
    conversation = answered.conversation if answered else threads.conversation_by_subject(community, subject)
    subject = normalize.text(subject)[:MAX_SUBJECT] or (conversation.subject if conversation else "")
    if conversation is None:
        conversation = Conversation(community_id=community.id, subject=subject or "(no subject)",
                                    started_by_id=membership.member_id)
        db.session.add(conversation)
        db.session.flush()
    waiting = must_wait(community, membership)
    post = Post(conversation_id=conversation.id, community_id=community.id, member_id=membership.member_id,
                inbound_message_id=inbound_message_id, message_id=_message_id(),
                original_message_id=(original_message_id or None) and original_message_id[:255],
                in_reply_to_id=answered.id if answered else None, subject=subject or conversation.subject,
                text=text[:MAX_TEXT], html=html, status="waiting" if waiting else "published",
                reason=_waiting_reason(community) if waiting else "")
    attachments.keep(post, files or [])
    db.session.add(post)
    db.session.flush()
    if waiting:
        moderation.post_waits(post, community)
    else:
        delivery.publish(post)
    return post


def _waiting_reason(community: Community) -> str:
    return ("every post waits for a moderator here" if community.moderation == "all"
            else "a new member's first post waits for a moderator")


def _message_id() -> str:
    """The Message-ID every copy of the post carries: ours, unique, on our domain."""
    return make_msgid(idstring=f"post{clock.now():%Y%m%d}", domain=current_app.config["INBOUND_DOMAIN"])
