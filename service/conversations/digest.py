"""Conversations for members who chose the digest: what their digest shows, and the daily email when their
lesson digest will not carry them.

Each membership on "digest" keeps `conversations_digest_at`, the end of the
stretch its last digest covered; the next digest covers from there up to its
own moment, so no post is shown twice or skipped, whichever kind of digest
carries it. A copy's window is written in its outbox row and the posts are
read when it is sent. A post the member already got as its own email (their
choice was "every message" then), their own posts and muted conversations
are left out.

The lesson digest carries the conversations (service/digests.py). When it
will not reach the member (the community sends none, or the member chose
"never" for lesson digests), `queue_due` sends a conversations digest once a
day from the community's digest hour, in its time zone, and only when there
is something new: one outbox row per member and local day.
"""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from service import clock, mailer
from service.conversations import archive
from service.clock import aware
from service.extensions import db
from service.models import Community, Conversation, ConversationMute, Member, Membership, OutboundEmail, Post
from service.sql import one_of

KIND = "conversation_digest"
MAX_POSTS = 50          # a digest shows this many posts at most, and says how many more there are
EXCERPT_LINES, EXCERPT_CHARS = 4, 400
FIRST_WINDOW = timedelta(days=1)  # how far back a first daily digest looks when nothing marks its start


# --- windows --------------------------------------------------------------------------------------

def carried(membership: Membership | None, since: datetime, until: datetime, advance: bool) -> dict:
    """The conversations window a lesson digest copy carries ({} for a member not on "digest"); with
    `advance`, the next digest starts where this one ends."""
    if membership is None or membership.conversations != "digest":
        return {}
    start = aware(membership.conversations_digest_at) if membership.conversations_digest_at else since
    if advance:
        membership.conversations_digest_at = max(until, start)
    return {"conversations_since": start.isoformat(), "conversations_until": until.isoformat()}


def in_row(row: OutboundEmail, member: Member, community: Community) -> dict:
    """What a digest copy's templates show of the conversations: `conversations` (a list, empty when its row
    carries no window) and `conversations_more` (how many posts were left out past MAX_POSTS)."""
    context = row.context or {}
    if not context.get("conversations_since") or not context.get("conversations_until"):
        return {"conversations": [], "conversations_more": 0}
    posts = new_posts(community, member, datetime.fromisoformat(context["conversations_since"]),
                      datetime.fromisoformat(context["conversations_until"]))
    return {"conversations": grouped(community, member, posts[:MAX_POSTS]),
            "conversations_more": max(0, len(posts) - MAX_POSTS)}


# --- content --------------------------------------------------------------------------------------

def new_posts(community: Community, member: Member, since: datetime, until: datetime) -> list[Post]:
    """Published posts of the window the member has not had: not theirs, not muted, not emailed to them."""
    muted = select(ConversationMute.conversation_id).where(ConversationMute.member_id == member.id)
    query = (select(Post).where(
        Post.community_id == community.id, Post.status == "published", Post.published_at > since,
        Post.published_at <= until, Post.conversation_id.not_in(muted),
        (Post.member_id.is_(None)) | (Post.member_id != member.id))
        .order_by(Post.published_at, Post.id))
    posts = list(db.session.scalars(query))
    emailed = _emailed(member, posts)
    return [post for post in posts if post.id not in emailed]


def _emailed(member: Member, posts: list[Post]) -> set[int]:
    """Which of the posts went to the member as their own email (the key delivery.publish gives each copy)."""
    keys = {f"post:{post.id}:{member.id}": post.id for post in posts}
    if not keys:
        return set()
    found = db.session.scalars(select(OutboundEmail.idempotency_key).where(
        one_of(OutboundEmail.idempotency_key, list(keys)), OutboundEmail.status != "suppressed"))
    return {keys[key] for key in found}


def grouped(community: Community, member: Member, posts: list[Post]) -> list[dict]:
    """The posts by conversation, each conversation where its first new post falls, its posts in order."""
    if not posts:
        return []
    authors = dict(db.session.execute(select(Membership.member_id, Membership.name).where(
        Membership.community_id == community.id, one_of(Membership.member_id,
                                                         list({p.member_id for p in posts if p.member_id})))).all())
    conversations: dict[int, dict] = {}
    for post in posts:
        entry = conversations.get(post.conversation_id)
        if entry is None:
            conversation = db.session.get(Conversation, post.conversation_id)
            entry = conversations[post.conversation_id] = {
                "id": conversation.id, "subject": conversation.subject, "posts": [],
                "new": post.id == _first_post_id(conversation),  # the conversation started in this window
                "archive_url": archive_url(community, member, conversation)}
        entry["posts"].append({"author": authors.get(post.member_id, ""), "excerpt": excerpt(post.text)})
    return list(conversations.values())


def _first_post_id(conversation: Conversation) -> int | None:
    return db.session.scalar(select(func.min(Post.id)).where(Post.conversation_id == conversation.id,
                                                             Post.status == "published"))


def excerpt(text: str) -> str:
    """The first lines of a post's own words: quoted lines (">") and blank lines left out, cut at a word."""
    lines = [line.rstrip() for line in (text or "").splitlines()
             if line.strip() and not line.lstrip().startswith(">")]
    shown = "\n".join(lines[:EXCERPT_LINES])
    if len(shown) > EXCERPT_CHARS:
        shown = shown[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " [...]"
    elif len(lines) > EXCERPT_LINES:
        shown += " [...]"
    return shown


def archive_url(community: Community, member: Member, conversation: Conversation) -> str:
    """The member's link to read the whole conversation in the community's archive (service/views/member_archive)."""
    return f"{archive.archive_url(member.id, community.id)}/{conversation.id}"


# --- the daily conversations digest ---------------------------------------------------------------

def queue_due(moment: datetime | None = None) -> int:
    """Queue today's conversations digest to each member on "digest" whose lesson digest will not carry them,
    once their community's digest hour has passed, when there is something new; emails queued."""
    moment = moment or clock.now()
    candidates = db.session.execute(
        select(Membership, Member, Community).join(Member, Membership.member_id == Member.id)
        .join(Community, Membership.community_id == Community.id)
        .where(Membership.status == "active", Membership.conversations == "digest",
               Community.archived_at.is_(None),
               (Community.digest_enabled.is_(False)) | (Member.digest_frequency == "never"))
        .order_by(Community.id, Member.id)).all()
    due = {}
    for membership, member, community in candidates:
        local = moment.astimezone(ZoneInfo(community.time_zone))
        if local.hour >= community.digest_hour:
            due[f"conversation-digest:{community.id}:{member.id}:{local.date().isoformat()}"] = (
                membership, member, community)
    if not due:
        return 0
    sent = set(db.session.scalars(select(OutboundEmail.idempotency_key).where(
        one_of(OutboundEmail.idempotency_key, list(due)))))
    latest = dict(db.session.execute(select(Post.community_id, func.max(Post.published_at)).where(
        Post.status == "published", one_of(Post.community_id, list({c.id for _m, _p, c in due.values()})))
        .group_by(Post.community_id)).all())
    suppressed = mailer.suppressed_addresses(member.email for _m, member, _c in due.values())
    queued = 0
    for key, (membership, member, community) in due.items():
        last_post = latest.get(community.id)
        since = aware(membership.conversations_digest_at) if membership.conversations_digest_at \
            else moment - FIRST_WINDOW
        if key in sent or last_post is None or aware(last_post) <= since \
                or mailer.suppression_reason(member, suppressed, community) is not None \
                or not new_posts(community, member, since, moment):
            continue
        queued += mailer.queue_email(KIND, member, key, {"conversations_since": since.isoformat(),
                                                         "conversations_until": moment.isoformat()}, community)
        membership.conversations_digest_at = moment
    db.session.commit()
    return queued


def email_extras(row: OutboundEmail, member: Member, community: Community) -> dict:
    """What the daily conversations digest shows, read when it is sent."""
    return in_row(row, member, community)
