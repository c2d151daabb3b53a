"""Reading a community's conversations: the list (newest activity first, searched, in pages) and one thread.

Two readers share these queries. Staff (coordinators, leaders, observers)
see every conversation, waiting and declined posts included and labelled as
such; members, through their archive link, see published posts only, and a
conversation only once one of its posts is published. Searching looks in the
subjects, the posts' text and their authors' names (as this community knows
them), in the posts the reader may see.
"""
from dataclasses import dataclass, replace
from datetime import datetime
from math import ceil

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import aliased, selectinload

from service import normalize
from service.extensions import db
from service.links import token_url
from service.models import Community, Conversation, Membership, Post, PostAttachment
from service.paging import Page
from service.sql import contains_text
from service.tokens import make_token

PAGE_SIZE = 25
SEARCH_MAX_LENGTH = 200
# A member's archive link is signed for (member, community): it opens that community's archive only.
TOKEN_PURPOSE = "archive"


def archive_url(member_id: int, community_id: int) -> str:
    """The member's own link to the community's archive (every community email carries it)."""
    return token_url("member_archive.index", make_token(TOKEN_PURPOSE, member_id, community_id))


@dataclass(frozen=True)
class Criteria:
    """A search (empty for every conversation) and the page asked for."""
    q: str = ""
    page: int = 1

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to the list with `changes` (defaults left out)."""
        wanted = replace(self, **changes)
        return {name: value for name, value in vars(wanted).items() if value != getattr(Criteria(), name)}


def criteria_from(args) -> Criteria:
    """The request's query string as Criteria; a page that is not a whole number is the first."""
    try:
        page = normalize.database_id(args.get("page")) or 1
    except (TypeError, ValueError):
        page = 1
    return Criteria(q=normalize.text(args.get("q"))[:SEARCH_MAX_LENGTH], page=page)


@dataclass
class Row:
    """One conversation in the list, with what the reader needs to choose it."""
    conversation: Conversation
    started_by: str      # the starter's name in this community ('' when they are gone)
    last_activity: datetime
    posts: int           # the posts the reader may see
    waiting: int         # posts waiting for a moderator (0 for members)


def _visible_posts(community: Community, published_only: bool):
    """The community's posts the reader may see, as a condition on Post."""
    condition = Post.community_id == community.id
    return condition & (Post.status == "published") if published_only else condition


def _matching(community: Community, criteria: Criteria, published_only: bool):
    """The conversations the reader may see that match the search."""
    query = select(Conversation).where(Conversation.community_id == community.id)
    if published_only:
        query = query.where(Conversation.post_count > 0)
    else:
        query = query.where(exists().where(Post.conversation_id == Conversation.id))
    if criteria.q:
        author = aliased(Membership)
        found = (select(Post.id).outerjoin(author, (author.member_id == Post.member_id)
                                           & (author.community_id == community.id))
                 .where(_visible_posts(community, published_only), Post.conversation_id == Conversation.id,
                        or_(contains_text(Post.subject, criteria.q), contains_text(Post.text, criteria.q),
                            contains_text(author.name, criteria.q))))
        query = query.where(or_(contains_text(Conversation.subject, criteria.q), found.exists()))
    return query


def _activity():
    """When a conversation last changed: its latest published post, else when it was started."""
    return func.coalesce(Conversation.last_post_at, Conversation.created_at)


def conversations_page(community: Community, criteria: Criteria, published_only: bool) -> Page:
    """One page of the community's conversations, newest activity first; a page past the end shows the last."""
    query = _matching(community, criteria, published_only)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    number = min(criteria.page, max(1, ceil(total / PAGE_SIZE)))
    conversations = list(db.session.scalars(query.order_by(_activity().desc(), Conversation.id.desc())
                                            .offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return Page(_rows(community, conversations, published_only), total, replace(criteria, page=number), PAGE_SIZE)


def _rows(community: Community, conversations: list[Conversation], published_only: bool) -> list[Row]:
    """The page's rows: names and post counts read in two queries for the whole page."""
    ids = [conversation.id for conversation in conversations]
    counts = {}
    if ids:
        counted = db.session.execute(
            select(Post.conversation_id, Post.status, func.count()).where(Post.conversation_id.in_(ids))
            .group_by(Post.conversation_id, Post.status))
        for conversation_id, status, number in counted:
            counts.setdefault(conversation_id, {})[status] = number
    names = _names(community, {c.started_by_id for c in conversations if c.started_by_id})
    rows = []
    for conversation in conversations:
        by_status = counts.get(conversation.id, {})
        posts = by_status.get("published", 0) if published_only else sum(by_status.values())
        rows.append(Row(conversation, names.get(conversation.started_by_id, ""),
                        conversation.last_post_at or conversation.created_at, posts,
                        0 if published_only else by_status.get("waiting", 0)))
    return rows


def _names(community: Community, member_ids: set[int]) -> dict[int, str]:
    if not member_ids:
        return {}
    return dict(db.session.execute(select(Membership.member_id, Membership.name).where(
        Membership.community_id == community.id, Membership.member_id.in_(member_ids))).all())


@dataclass
class Thread:
    conversation: Conversation
    posts: list[Post]
    authors: dict[int, str]  # member id -> name in this community


def thread(community: Community, conversation_id: int, published_only: bool) -> Thread | None:
    """The conversation's posts in the order they came, with their attachments; None when it is not this
    community's, or (for members) has nothing published."""
    conversation = db.session.scalar(select(Conversation).where(
        Conversation.id == conversation_id, Conversation.community_id == community.id))
    if conversation is None:
        return None
    query = (select(Post).where(Post.conversation_id == conversation.id, _visible_posts(community, published_only))
             .options(selectinload(Post.attachments).load_only(  # names and sizes, not the files
                 PostAttachment.id, PostAttachment.filename, PostAttachment.content_type, PostAttachment.size))
             .order_by(Post.created_at, Post.id))
    posts = list(db.session.scalars(query))
    if published_only and not posts:
        return None
    return Thread(conversation, posts, _names(community, {p.member_id for p in posts if p.member_id}))


def community_named_by(token: str) -> int:
    """The community id an archive token says it is for (0 when it names none); only read_token, which checks
    the signature over it, makes it trustworthy."""
    parts = token.split(".") if isinstance(token, str) else []
    return int(parts[1]) if len(parts) == 4 and parts[1].isascii() and parts[1].isdigit() else 0


def reader_membership(community_id: int, member_id: int) -> tuple[Community | None, Membership | None]:
    """The community a member's archive link names and their membership there (None when they have none)."""
    community = db.session.get(Community, community_id)
    if community is None:
        return None, None
    membership = db.session.scalar(select(Membership).where(
        Membership.community_id == community.id, Membership.member_id == member_id))
    return community, membership


def may_read(membership: Membership | None) -> bool:
    """Whether a member's archive link still opens the archive: only while their membership is active."""
    return membership is not None and membership.status == "active"


def attachment(community: Community, attachment_id: int, published_only: bool) -> PostAttachment | None:
    """A file attached to a post the reader may see in this community; None for any other id."""
    return db.session.scalar(select(PostAttachment).join(Post, Post.id == PostAttachment.post_id).where(
        PostAttachment.id == attachment_id, _visible_posts(community, published_only)))
