"""The outbox as the coordinator sees it: which emails each may see, retries, who gets no mail."""
from sqlalchemy import ScalarSelect, Select, func, or_, select

from service import audit, mailer
from service.extensions import db
from service.roles import read_only_communities
from service.models import (AuditEvent, BounceEvent, Community, CommunityCoordinator, Coordinator, FormRequest,
                            FormResponse, Meeting, Member, Membership, OutboundEmail)
from service.sql import contains_text

PAGE_SIZE = 25  # "1–25 of 30000", then Older: a page of 50 cost twice the rows' rendering for what a screen shows
NOT_RECEIVING_SHOWN = 20  # on the community page; the members list filters by status for the rest


def visible_outbox_query(coordinator: Coordinator, community_ids: list[int] | None = None) -> Select:
    """Outbox rows of the coordinator's communities (all rows for an admin), newest first; `community_ids` are
    those communities when the caller has read them already (service.communities.visible_communities_query):
    PostgreSQL plans a list of ids in a fraction of the time it plans the subquery that finds them."""
    query = select(OutboundEmail).order_by(OutboundEmail.id.desc())
    if not coordinator.is_admin:
        if community_ids is None:
            community_ids = select(CommunityCoordinator.community_id).where(
                CommunityCoordinator.coordinator_id == coordinator.id)
        query = query.where(OutboundEmail.community_id.in_(community_ids))
    return query


def filtered(coordinator: Coordinator, status: str | None = None, kind: str | None = None,
             community_id: int | None = None, search: str = "", community_ids: list[int] | None = None) -> Select:
    """The coordinator's rows narrowed by status, kind, community and a search of recipient and subject
    (`community_ids` as for visible_outbox_query)."""
    query = visible_outbox_query(coordinator, community_ids)
    if search:
        query = query.where(_matching(search))
    if status:
        query = query.where(OutboundEmail.status == status)
    if kind:
        query = query.where(OutboundEmail.kind == kind)
    if community_id:
        query = query.where(OutboundEmail.community_id == community_id)
    return query


def _matching(search: str):
    """Rows whose recipient or subject contains `search`: the subject's own words are what a coordinator wrote
    (an announcement's subject, the meeting's or the form's title, in English or Spanish), matched where they
    are stored."""
    context = OutboundEmail.context
    meetings = select(Meeting.id).where(or_(contains_text(Meeting.title_en, search),
                                            contains_text(Meeting.title_es, search)))
    forms = select(FormResponse.id).join(FormRequest).where(or_(contains_text(FormRequest.title_en, search),
                                                                contains_text(FormRequest.title_es, search)))
    return or_(contains_text(OutboundEmail.recipient, search),
               contains_text(context["subject"].as_string(), search),
               contains_text(context["subject_es"].as_string(), search),  # in either language (service.bilingual)
               context["meeting_id"].as_integer().in_(meetings),
               context["response_id"].as_integer().in_(forms))


def count(query: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def page(query: Select, number: int) -> tuple[list, bool]:
    """One page of `query`'s rows (tuples of its columns), and whether another page follows."""
    rows = list(db.session.execute(query.offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all())
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def kinds() -> list[str]:
    """Every kind of email, for the filter (asking the outbox which kinds it holds read every row)."""
    return sorted(mailer.KINDS)


def email_for(coordinator: Coordinator, email_id: int) -> OutboundEmail | None:
    return db.session.scalar(visible_outbox_query(coordinator).where(OutboundEmail.id == email_id))


def retry(coordinator: Coordinator, query: Select) -> int:
    """Send the failed emails among `query`'s rows again (not those of communities the coordinator only
    observes); returns how many."""
    query = query.where(OutboundEmail.status == "failed", OutboundEmail.community_id.not_in(
        read_only_communities(coordinator)))
    ids = list(db.session.scalars(query.with_only_columns(OutboundEmail.id)))
    count = mailer.retry_failed(ids)
    if count:
        audit.record(coordinator, "outbox.retry", "outbound_email", ids[0] if count == 1 else None, count=count)
    return count


def delivery_problem_id(every: bool, community_ids) -> ScalarSelect:
    """The id of the last time the mail server refused something about us and delivery stopped (service.delivery),
    while no email of these communities (of any, when `every`: an admin's) has been sent since (NULL otherwise);
    the event's details hold the server's words. A subquery, so the Outbox reads it in the statement of its counts
    (service.outbox_counts); `community_ids` are the communities' ids or a parameter that will hold them."""
    last = select(AuditEvent.id, AuditEvent.created_at).where(AuditEvent.action == "delivery.stopped")
    sent_since = select(OutboundEmail.id)
    if not every:
        last = last.where(AuditEvent.community_id.in_(community_ids))
        sent_since = sent_since.where(OutboundEmail.community_id.in_(community_ids))
    last = last.order_by(AuditEvent.id.desc()).limit(1).subquery()
    sent_since = sent_since.where(OutboundEmail.sent_at > last.c.created_at)
    return select(last.c.id).where(~sent_since.exists()).scalar_subquery()


def members_not_receiving(community: Community, limit: int = NOT_RECEIVING_SHOWN
                          ) -> list[tuple[Member, str, str, str, int]]:
    """The first `limit` active members of the community (by name) whom mail does not reach: (member, name here,
    reason, last bounce, membership id), in one query (how many in all: member_list.Summary.not_receiving)."""
    last_bounce = (select(BounceEvent.diagnostic).where(BounceEvent.member_id == Member.id)
                   .order_by(BounceEvent.id.desc()).limit(1).scalar_subquery())
    found = db.session.execute(
        select(Member, Membership.name, Membership.id, last_bounce).join(Membership)
        .where(Membership.community_id == community.id, Membership.status == "active",
               or_(Member.status != "active", Member.paused))
        .order_by(Membership.community_id, Membership.status, func.lower(Membership.name), Membership.id)
        .limit(limit)).all()
    return [(member, name, "paused" if member.status == "active" else member.status, last or "", membership_id)
            for member, name, membership_id, last in found]
