"""Which conversation a post joins: the one whose message it answers, else a new one.

A reply names what it answers in In-Reply-To and References; those are
looked up among the Message-IDs of this community's posts (ours, which every
copy carries, and the author's original). Mail clients that drop those
headers keep the subject, so a "Re:" subject equal to a recent conversation's
joins it. Only this community's posts are searched: a Message-ID of another
community's post starts a new conversation here.
"""
from datetime import timedelta

from sqlalchemy import or_, select

from service import clock
from service.extensions import db
from service.inbound.intent import normalized, subject_without_prefixes
from service.models import Community, Conversation, Post

SUBJECT_MATCH_DAYS = 30  # a "Re:" subject joins a conversation active this recently


def answered_post(community: Community, in_reply_to: str, references: list[str]) -> Post | None:
    """The newest of the referenced messages that is a post of this community."""
    candidates = [c for c in dict.fromkeys([in_reply_to, *reversed(references or [])]) if c][:50]
    if not candidates:
        return None
    posts = db.session.scalars(select(Post).where(
        Post.community_id == community.id,
        or_(Post.message_id.in_(candidates), Post.original_message_id.in_(candidates))))
    by_id = {}
    for post in posts:
        by_id.setdefault(post.message_id, post)
        if post.original_message_id:
            by_id.setdefault(post.original_message_id, post)
    return next((by_id[c] for c in candidates if c in by_id), None)


def conversation_by_subject(community: Community, subject: str) -> Conversation | None:
    """A recent conversation of this community with the same subject, when `subject` is a reply's ("Re: ...")."""
    bare = subject_without_prefixes(subject or "")
    if not bare or bare == " ".join((subject or "").split()):
        return None  # not a reply's subject: a new conversation, even on a subject used before
    since = clock.now() - timedelta(days=SUBJECT_MATCH_DAYS)
    recent = db.session.scalars(select(Conversation).where(
        Conversation.community_id == community.id, Conversation.created_at >= since)
        .order_by(Conversation.id.desc()).limit(200))
    wanted = normalized(bare)
    return next((conversation for conversation in recent if normalized(conversation.subject) == wanted), None)
