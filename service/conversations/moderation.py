"""Moderating posts that wait: telling the author and the moderators, approving, editing the subject, declining.

A post waits when the community's rules say so (posting.must_wait). Its
author is told once, in their language; each coordinator and leader of the
community (not observers) gets an email with the post and a signed reply
address of their own (`moderate+POST.ACCOUNT.sig`), so they moderate from
the dashboard or by replying "approve" or "decline <reason>".

Moderating claims the post with one conditional UPDATE (`status = 'waiting'`),
so two moderators at once, or a page and a reply, act once: the second learns
who moderated it first and nothing more happens. Approving publishes the
post and marks its author approved, so under the "new" mode their later posts
go straight out; declining tells the author why and sends nothing else.
"""
from flask_babel import gettext as _
from sqlalchemy import select, update

from service import audit, clock, mailer, normalize
from service.addresses import make_address
from service.conversations import delivery
from service.email_render import safe_message_id
from service.errors import DomainError
from service.extensions import db
from service.links import public_url
from service.models import (Community, CommunityCoordinator, Conversation, Coordinator, Member, Membership,
                            OutboundEmail, Post)

MODERATOR_ROLES = ("coordinator", "leader")
WAITING_KIND, MODERATION_KIND, DECLINED_KIND = "post_waiting", "post_moderation", "post_declined"
MAX_SUBJECT = Post.__table__.c.subject.type.length
MAX_REASON = 1000
EXCERPT_CHARS = 4000
RECENT = 20


class Moderated(Exception):
    """Someone moderated the post first: `post` holds what they did."""

    def __init__(self, post: Post):
        super().__init__(post.status)
        self.post = post


# --- a post starts waiting -----------------------------------------------------------------------------------

def post_waits(post: Post, community: Community) -> None:
    """Tell the author their post waits, and every moderator that it does; once per post (outbox keys)."""
    author = db.session.get(Member, post.member_id) if post.member_id else None
    if author is not None:
        context = {"post_id": post.id, "subject": post.subject, "excerpt": _excerpt(post.text, 1000),
                   "mode": community.moderation}
        answered = safe_message_id(post.original_message_id)
        if answered:
            context["in_reply_to"] = answered
        mailer.queue_email(WAITING_KIND, author, f"{WAITING_KIND}:{post.id}", context, community)
    for account in moderators(community):
        mailer.queue_coordinator_email(MODERATION_KIND, account, f"{MODERATION_KIND}:{post.id}:{account.id}",
                                       {"post_id": post.id, "coordinator_id": account.id}, community)


def moderators(community: Community) -> list[Coordinator]:
    """The active accounts that coordinate or lead the community (observers only look)."""
    return list(db.session.scalars(
        select(Coordinator).join(CommunityCoordinator, CommunityCoordinator.coordinator_id == Coordinator.id)
        .where(CommunityCoordinator.community_id == community.id, CommunityCoordinator.role.in_(MODERATOR_ROLES),
               Coordinator.active).order_by(Coordinator.id)))


def can_moderate(account: Coordinator, community: Community) -> bool:
    """An admin, or an active account that coordinates or leads this community."""
    if not account.active:
        return False
    if account.is_admin:
        return True
    return db.session.scalar(select(CommunityCoordinator.role).where(
        CommunityCoordinator.community_id == community.id,
        CommunityCoordinator.coordinator_id == account.id)) in MODERATOR_ROLES


# --- what the dashboard shows ------------------------------------------------------------------------------

def post_in(community: Community, post_id: int) -> Post | None:
    """One of this community's posts by id; None for any other (views answer 404)."""
    return db.session.scalar(select(Post).where(Post.id == post_id, Post.community_id == community.id))


def waiting_posts(community: Community) -> list[Post]:
    """The posts waiting for a moderator, oldest first (the order they arrived)."""
    return list(db.session.scalars(select(Post).where(Post.community_id == community.id, Post.status == "waiting")
                                   .order_by(Post.id)))


def recently_moderated(community: Community, limit: int = RECENT) -> list[Post]:
    """The posts moderated last, newest first."""
    return list(db.session.scalars(select(Post).where(Post.community_id == community.id,
                                                      Post.moderated_at.is_not(None))
                                   .order_by(Post.moderated_at.desc(), Post.id.desc()).limit(limit)))


def moderator_names(posts: list[Post]) -> dict[int, str]:
    """The names of the accounts that moderated these posts, by account id."""
    ids = {post.moderated_by_id for post in posts if post.moderated_by_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(Coordinator.id, Coordinator.name).where(Coordinator.id.in_(ids))).all())


# --- moderating ---------------------------------------------------------------------------------------------

def edit_subject(actor: Coordinator, post: Post, subject: str) -> bool:
    """Change a waiting post's subject (and its new conversation's), audited; True if it changed."""
    community = _check(actor, post)
    subject = _subject(subject)
    if post.status != "waiting":
        raise Moderated(post)
    if subject == post.subject:
        return False
    previous, post.subject = post.subject, subject
    conversation = db.session.get(Conversation, post.conversation_id)
    if not conversation.post_count and conversation.started_by_id == post.member_id and \
            db.session.scalar(select(Post.id).where(Post.conversation_id == conversation.id)
                              .order_by(Post.id).limit(1)) == post.id:
        conversation.subject = subject  # the post starts its conversation: the thread takes the new subject
    audit.record(actor, "post.subject", "post", post.id, community.id, previous=previous, now=subject)
    return True


def approve(actor: Coordinator, post: Post, via: str = "page", subject: str | None = None) -> int:
    """Publish a waiting post (with `subject` when given) and approve its author; how many copies were queued.
    Raises Moderated when someone moderated it first. The caller commits."""
    community = _check(actor, post)
    if subject is not None:
        subject = _subject(subject)
        if post.status == "waiting" and subject != post.subject:
            edit_subject(actor, post, subject)
    _claim(actor, post, "published")
    db.session.execute(update(Membership).where(Membership.community_id == post.community_id,
                                                Membership.member_id == post.member_id).values(posts_approved=True))
    copies = delivery.publish(post)
    audit.record(actor, "post.approve", "post", post.id, community.id, via=via, copies=copies)
    return copies


def decline(actor: Coordinator, post: Post, reason: str, via: str = "page") -> None:
    """Decline a waiting post with the reason its author is emailed; nothing is delivered. Raises Moderated when
    someone moderated it first. The caller commits."""
    community = _check(actor, post)
    reason = normalize.text(reason or "", multiline=True).strip()
    if not reason:
        raise DomainError(_("Say why the post is declined: its author reads the reason."), "reason")
    if len(reason) > MAX_REASON:
        raise DomainError(_("The reason is at most %(num)d characters.", num=MAX_REASON), "reason")
    _claim(actor, post, "declined", reason=reason)
    author = db.session.get(Member, post.member_id) if post.member_id else None
    if author is not None:
        context = {"post_id": post.id, "subject": post.subject, "excerpt": _excerpt(post.text, 1000),
                   "reason": reason}
        answered = safe_message_id(post.original_message_id)
        if answered:
            context["in_reply_to"] = answered
        mailer.queue_email(DECLINED_KIND, author, f"{DECLINED_KIND}:{post.id}", context, community)
    audit.record(actor, "post.decline", "post", post.id, community.id, via=via, reason=reason)


def _check(actor: Coordinator, post: Post) -> Community:
    community = db.session.get(Community, post.community_id)
    if not can_moderate(actor, community):
        raise DomainError(_("Your role in this community does not allow this."))
    if community.archived_at is not None:
        raise DomainError(_("This community is archived: its posts are no longer moderated."))
    return community


def _subject(subject: str) -> str:
    subject = normalize.text(subject or "").strip()
    if not subject:
        raise DomainError(_("A post needs a subject."), "subject")
    if len(subject) > MAX_SUBJECT:
        raise DomainError(_("A subject is at most %(num)d characters.", num=MAX_SUBJECT), "subject")
    return subject


def _claim(actor: Coordinator, post: Post, status: str, reason: str = "") -> None:
    """Move the post out of `waiting` in one conditional UPDATE: only one moderator's claim can succeed (a
    second one, at the same moment, waits for the first's commit and then finds no waiting post)."""
    db.session.flush()  # a subject edited just before is written, not lost to the refresh below
    claimed = db.session.execute(
        update(Post).where(Post.id == post.id, Post.status == "waiting")
        .values(status=status, moderated_by_id=actor.id, moderated_at=clock.now(), reason=reason)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(post)
    if claimed != 1:
        raise Moderated(post)


def _excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " [...]"


# --- the emails' templates ---------------------------------------------------------------------------------

def moderator_extras(row: OutboundEmail) -> dict:
    """What the moderation email shows its moderator, in their language, and its signed Reply-To."""
    account = db.session.get(Coordinator, row.context["coordinator_id"])
    post = db.session.get(Post, row.context["post_id"])
    if account is None or not account.active or post is None:
        raise ValueError("the account or the post no longer exists, or the account is disabled")
    community = db.session.get(Community, post.community_id)
    author = db.session.execute(select(Membership.name, Member.email).join(Member, Member.id == Membership.member_id)
                                .where(Membership.community_id == community.id,
                                       Membership.member_id == post.member_id)).first()
    conversation = db.session.get(Conversation, post.conversation_id)
    return {"coordinator": account, "language": account.language, "community": community, "post": post,
            "author_name": author[0] if author else "", "author_email": author[1] if author else "",
            "text": _excerpt(post.text), "reply": bool(post.in_reply_to_id) or bool(conversation.post_count),
            "conversation_subject": conversation.subject,
            "moderation_url": public_url("moderation.index", community_id=community.id),
            "reply_to": make_address("moderate", post.id, account.id)}
