"""Sending a published post to the members who read every message, threaded as mail clients expect.

Every copy carries the post's own Message-ID, In-Reply-To the post it
answers and References its ancestors (the first one's original Message-ID
first, so the author's client threads it under what they sent), so Gmail,
Outlook and Apple Mail show one thread. What the copies share is put in the
outbox rows' context once; the copies differ only in the member's name and
links, so a batch renders the email once (service/batch_render.py).
"""
from sqlalchemy import select

from service import clock, mailer
from service.conversations import attachments
from service.email_render import safe_message_id
from service.extensions import db
from service.models import Community, ConversationMute, Member, Membership, Post

MAX_REFERENCES = 20
KIND = "conversation_post"


def publish(post: Post) -> int:
    """Mark the post published and queue a copy for each member who reads every message; how many."""
    now = clock.now()
    post.status, post.published_at = "published", post.published_at or now
    conversation = post.conversation
    conversation.last_post_at = now
    conversation.post_count = (conversation.post_count or 0) + 1
    community = db.session.get(Community, post.community_id)
    context = post_context(post)
    return mailer.queue_bulk(KIND, recipient_rows(post), key_for=lambda m: f"post:{post.id}:{m.id}",
                             context_for=lambda _m: context, community=community)


def recipients(post: Post) -> list[Member]:
    """Active members on "every message", but the author and those who muted the conversation."""
    return list(db.session.scalars(_recipients_query(post, Member)))


def recipient_rows(post: Post):
    """The recipients as plain rows of what queuing their copies reads (id, email, status, paused): loading
    4,000 Member objects took longer than queuing their 4,000 rows (bench/conversations.py)."""
    return db.session.execute(_recipients_query(post, Member.id, Member.email, Member.status, Member.paused)).all()


def _recipients_query(post: Post, *columns):
    muted = select(ConversationMute.member_id).where(ConversationMute.conversation_id == post.conversation_id)
    query = (select(*columns).select_from(Member).join(Membership).where(
        Membership.community_id == post.community_id, Membership.status == "active",
        Membership.conversations == "every", Member.id.not_in(muted)).order_by(Member.id))
    if post.member_id is not None:
        query = query.where(Member.id != post.member_id)
    return query


def post_context(post: Post) -> dict:
    """What every copy shows and the headers that thread it."""
    author = db.session.scalar(select(Membership.name).where(
        Membership.community_id == post.community_id, Membership.member_id == post.member_id)) or ""
    author_email = db.session.scalar(select(Member.email).where(Member.id == post.member_id)) or ""
    return {"post_id": post.id, "conversation_id": post.conversation_id, "subject": post.subject,
            "text": post.text, "html": post.html, "author": author, "author_email": author_email,
            "message_id": post.message_id, "in_reply_to": _parent_id(post), "references": _references(post),
            "attachments": attachments.listing(post)}


def _parent_id(post: Post) -> str | None:
    parent = db.session.get(Post, post.in_reply_to_id) if post.in_reply_to_id else None
    return parent.message_id if parent else None


def _references(post: Post) -> list[str]:
    """The post's ancestors' Message-IDs, oldest first, with the first post's original one before them."""
    chain, seen, current = [], set(), post
    while current.in_reply_to_id and current.in_reply_to_id not in seen and len(chain) < MAX_REFERENCES:
        seen.add(current.in_reply_to_id)
        current = db.session.get(Post, current.in_reply_to_id)
        if current is None:
            break
        chain.append(current.message_id)
    root_original = safe_message_id(current.original_message_id) if current is not post else None
    return ([root_original] if root_original else []) + list(reversed(chain))
