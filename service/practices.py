"""Practices members share: submitting one (web form or email reply), the coordinator's review, publishing.

A practice is pending until a coordinator approves it (optionally editing it
first) or declines it. Only approved practices are ever published: the digest
asks approved_since() for the ones approved after its previous issue.
"""
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from service import audit, community_archive, normalize
from service.clock import aware, now
from service.errors import DomainError
from service.extensions import db
from service.links import public_url
from service.models import Community, Coordinator, Member, Membership, Practice
from service.tokens import make_token

TOKEN_PURPOSE = "practice"
MAX_TITLE = 200
MAX_TEXT = 5000
SOURCES = ("web", "email")
TEXT_FIELDS = ("title", "what_we_did", "what_happened", "contact_ok")


def share_url(community: Community, member: Member) -> str:
    """The absolute link to this member's "share a practice" form for this community (for digests)."""
    token = make_token(TOKEN_PURPOSE, member.id, community.id)
    return public_url("practice_links.share", community_id=community.id, token=token)


# --- checking what was written --------------------------------------------------------------------

def _clean(fields: dict) -> dict:
    """Trimmed values, or DomainError naming the field: a title and what we did are required."""
    title = normalize.text(fields.get("title"))  # one line: it is a heading in emails
    what_we_did = normalize.text(fields.get("what_we_did"), multiline=True)
    what_happened = normalize.text(fields.get("what_happened"), multiline=True)
    if not title:
        raise DomainError(_("Give your practice a short title."), "title")
    if len(title) > MAX_TITLE:
        raise DomainError(_("The title can be at most %(num)d characters.", num=MAX_TITLE), "title")
    if not what_we_did:
        raise DomainError(_("Tell us what you did."), "what_we_did")
    if len(what_we_did) > MAX_TEXT:
        raise DomainError(_("This text can be at most %(num)d characters.", num=MAX_TEXT), "what_we_did")
    if len(what_happened) > MAX_TEXT:
        raise DomainError(_("This text can be at most %(num)d characters.", num=MAX_TEXT), "what_happened")
    return {"title": title, "what_we_did": what_we_did, "what_happened": what_happened,
            "contact_ok": bool(fields.get("contact_ok"))}


def active_membership(community: Community, member: Member, lock: bool = False) -> Membership | None:
    """The member's active membership in the community, if any (locked, to serialize submissions)."""
    query = select(Membership).where(Membership.community_id == community.id, Membership.member_id == member.id,
                                     Membership.status == "active")
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query)


# --- submitting -----------------------------------------------------------------------------------

def submit_practice(community: Community, member: Member, title: str, what_we_did: str,
                    what_happened: str = "", contact_ok: bool = False, source: str = "web") -> Practice:
    """Save a member's practice as pending review; the same title again while pending returns the first one.

    The caller commits. A double click, a reload of the thank-you page or a
    second email with the same title adds nothing.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown practice source {source!r}")
    community_archive.refuse_if_archived(community.id)
    if active_membership(community, member, lock=True) is None:
        raise DomainError(_("Only active members of %(name)s can share a practice with it.", name=community.name))
    values = _clean({"title": title, "what_we_did": what_we_did, "what_happened": what_happened,
                     "contact_ok": contact_ok})
    pending = db.session.scalars(select(Practice).where(
        Practice.community_id == community.id, Practice.member_id == member.id, Practice.status == "pending")
        .order_by(Practice.id))
    for existing in pending:  # compared here: SQLite's lower() leaves "Ñ" alone
        if existing.title.casefold() == values["title"].casefold():
            return existing
    practice = Practice(community_id=community.id, member_id=member.id, source=source, status="pending",
                        **values)
    db.session.add(practice)
    db.session.flush()
    audit.record(None, "practice.submit", "practice", practice.id, community.id, member=member.id, source=source)
    return practice


# --- reviewing ------------------------------------------------------------------------------------

def _apply_edits(practice: Practice, edits: dict) -> dict:
    """Apply the given fields (checked as a whole) and return {field: [old, new]} for what changed."""
    unknown = set(edits) - set(TEXT_FIELDS)
    if unknown:
        raise TypeError(f"unknown practice fields: {', '.join(sorted(unknown))}")
    if not edits:
        return {}
    current = {name: getattr(practice, name) for name in TEXT_FIELDS}
    values = _clean({**current, **edits})
    changes = {name: [current[name], values[name]] for name in TEXT_FIELDS if current[name] != values[name]}
    for name in changes:
        setattr(practice, name, values[name])
    return changes


def edit(actor: Coordinator, practice: Practice, **edits) -> dict:
    """Correct a practice's texts without changing whether it is published; returns what changed."""
    changes = _apply_edits(practice, edits)
    if changes:
        audit.record(actor, "practice.edit", "practice", practice.id, practice.community_id,
                     fields=sorted(changes))
    return changes


def approve(actor: Coordinator, practice: Practice, **edits) -> Practice:
    """Publish a practice (in the next digest), after applying any edits; approving twice changes nothing."""
    changes = _apply_edits(practice, edits)
    if practice.status == "approved":
        if changes:
            audit.record(actor, "practice.edit", "practice", practice.id, practice.community_id,
                         fields=sorted(changes))
        return practice
    previous, practice.status, practice.reviewed_at = practice.status, "approved", now()
    audit.record(actor, "practice.approve", "practice", practice.id, practice.community_id,
                 previous=previous, edited=sorted(changes))
    return practice


def decline(actor: Coordinator, practice: Practice, reason: str | None = None) -> Practice:
    """Keep a practice out of digests; the reason (optional) stays in the audit trail."""
    reason = normalize.text(reason)[:500]
    if practice.status == "declined":
        return practice
    previous, practice.status, practice.reviewed_at = practice.status, "declined", now()
    audit.record(actor, "practice.decline", "practice", practice.id, practice.community_id,
                 previous=previous, reason=reason)
    return practice


# --- reading --------------------------------------------------------------------------------------

def practice_in(community: Community, practice_id: int) -> Practice | None:
    """The practice if it belongs to this community, else None (views answer 404)."""
    return db.session.scalar(select(Practice).where(Practice.id == practice_id,
                                                    Practice.community_id == community.id))


def _of(community: Community, status: str):
    return select(Practice).where(Practice.community_id == community.id, Practice.status == status)


def pending_for(community: Community) -> list[Practice]:
    """The review queue, oldest first."""
    return list(db.session.scalars(_of(community, "pending").order_by(Practice.created_at, Practice.id)))


def pending_count(community: Community) -> int:
    return db.session.scalar(select(func.count()).select_from(
        _of(community, "pending").subquery())) or 0


def reviewed(community: Community, status: str, limit: int = 200) -> list[Practice]:
    """Approved or declined practices, most recently reviewed first."""
    return list(db.session.scalars(_of(community, status)
                                   .order_by(Practice.reviewed_at.desc(), Practice.id.desc()).limit(limit)))


def approved_since(community: Community, since: datetime | None, until: datetime | None = None) -> list[Practice]:
    """Practices approved after `since` (and up to `until`, if given), in the order they were approved.

    since=None means every approved one. Pending and declined practices are never returned.
    """
    query = _of(community, "approved")
    if since is not None:
        query = query.where(Practice.reviewed_at > aware(since))
    if until is not None:
        query = query.where(Practice.reviewed_at <= aware(until))
    return list(db.session.scalars(query.order_by(Practice.reviewed_at, Practice.id)))
