"""The public interest (intake) form: its shareable link, storing what people send, and the coordinator's review.

A community's link carries a signed, non-expiring value naming the community
(itsdangerous without a timestamp, salt of its own): it can be shared on a
flyer for months, it can't be guessed or walked by id, and it is the same
every time the coordinator copies it. Whoever sends it is emailed, in the
language they chose, that it arrived (once per entry). An entry is pending until a
coordinator accepts it (the person becomes a member and gets the welcome
email) or declines it.
"""
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, BadTimeSignature, SignatureExpired, TimestampSigner, URLSafeSerializer
from sqlalchemy import func, select

from service import audit, members, normalize
from service.clock import now
from service.errors import DomainError
from service.extensions import db
from service.links import public_url
from service.mailer import queue_coordinator_email
from service.models import Community, Coordinator, IntakeEntry, Member, Membership
from service.models.members import LANGUAGES
from service.tokens import secret_keys

LINK_SALT = "cop.intake-link"
RENDERED_SALT = "cop.intake-rendered"
MAX_LINE = 200   # organization, name, role: IntakeEntry holds this many characters
MAX_TEXT = 2000  # hopes, topics, availability
TEXT_FIELDS = ("hopes", "topics", "availability")


# --- the public link ------------------------------------------------------------------------------

def _keys_newest_last() -> list[str]:
    """itsdangerous signs with the last key and verifies with any: SECRET_KEY last, its fallbacks before it."""
    return secret_keys()[::-1]


def _link_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(_keys_newest_last(), salt=LINK_SALT)


def link_token(community: Community) -> str:
    """The signed value in a community's public link (the same each time; it does not expire)."""
    return _link_serializer().dumps({"c": community.id})


def community_from_token(token: str) -> Community | None:
    """The community a link names; None for a changed, made-up or other-purpose value."""
    try:
        claims = _link_serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("c"), int):
        return None
    return db.session.get(Community, claims["c"])


def public_link(community: Community) -> str:
    """The absolute link a coordinator shares (built from PUBLIC_BASE_URL)."""
    return public_url("intake_public.join", token=link_token(community))


def rendered_stamp() -> str:
    """A signed "this form was shown now" value for a hidden field (bots post faster than people type)."""
    return TimestampSigner(_keys_newest_last(), salt=RENDERED_SALT).sign(b"intake").decode()


def filled_too_fast(stamp: str | None) -> bool:
    """True when the form came back sooner than a person could fill it in, or without a valid stamp."""
    minimum = current_app.config.get("INTAKE_MIN_FILL_SECONDS", 2)
    signer = TimestampSigner(_keys_newest_last(), salt=RENDERED_SALT)
    try:
        _value, signed_at = signer.unsign(stamp or "", return_timestamp=True)
    except (BadTimeSignature, SignatureExpired, BadSignature):
        return True
    return (now() - signed_at).total_seconds() < minimum


# --- submitting -----------------------------------------------------------------------------------

def _clean(fields: dict) -> dict:
    """Trimmed values, or DomainError naming the field."""
    values = {name: normalize.text(fields.get(name)) for name in ("organization", "name", "role")}
    values.update({name: normalize.text(fields.get(name), multiline=True) for name in TEXT_FIELDS})
    if not values["name"]:
        raise DomainError(_("Tell us your name."), "name")
    if not values["organization"]:
        raise DomainError(_("Tell us which organization you are with."), "organization")
    for name in ("organization", "name", "role"):
        if len(values[name]) > MAX_LINE:
            raise DomainError(_("This can be at most %(num)d characters.", num=MAX_LINE), name)
    for name in TEXT_FIELDS:
        if len(values[name]) > MAX_TEXT:
            raise DomainError(_("This can be at most %(num)d characters.", num=MAX_TEXT), name)
    values["email"] = normalize.email_address(fields.get("email"))
    if len(values["email"]) > 254:
        raise DomainError(_("%(address)s is not a valid email address.", address=values["email"]), "email")
    language = fields.get("language") or "en"
    if language not in LANGUAGES:
        raise DomainError(_("Language must be English (en) or Spanish (es)."), "language")
    values["language"] = language
    return values


def submit(community: Community, **fields) -> IntakeEntry:
    """Store someone's interest as pending; the same address again while pending updates that entry.

    The caller commits. The community row is locked while looking for a
    pending entry, so two quick submissions of one address make one entry
    (on PostgreSQL; SQLite serializes writers anyway).
    """
    values = _clean(fields)
    db.session.scalar(select(Community.id).where(Community.id == community.id).with_for_update())
    entry = db.session.scalar(select(IntakeEntry).where(
        IntakeEntry.community_id == community.id, IntakeEntry.email == values["email"],
        IntakeEntry.status == "pending").order_by(IntakeEntry.id).limit(1))
    if entry is None:
        entry = IntakeEntry(community_id=community.id, status="pending", **values)
        db.session.add(entry)
        db.session.flush()
        audit.record(None, "intake.submit", "intake_entry", entry.id, community.id)
        # The person hears that their answers arrived: once per entry (updating a pending one sends nothing).
        queue_coordinator_email("intake_received", entry, f"intake_received:{entry.id}",
                                {"intake_entry_id": entry.id}, community=community)
    else:
        changed = sorted(name for name, value in values.items() if getattr(entry, name) != value)
        for name in changed:
            setattr(entry, name, values[name])
        if changed:
            audit.record(None, "intake.update", "intake_entry", entry.id, community.id, fields=changed)
    return entry


# --- reviewing ------------------------------------------------------------------------------------

def entry_in(community: Community, entry_id: int) -> IntakeEntry | None:
    """The entry if it belongs to this community, else None (views answer 404)."""
    return db.session.scalar(select(IntakeEntry).where(IntakeEntry.id == entry_id,
                                                       IntakeEntry.community_id == community.id))


def existing_membership(community: Community, email: str) -> Membership | None:
    """The membership here of whoever uses this address, if any."""
    return db.session.scalar(select(Membership).join(Member, Member.id == Membership.member_id).where(
        Membership.community_id == community.id, Member.email == email))


def accept(actor: Coordinator, community: Community, entry: IntakeEntry) -> tuple[IntakeEntry, bool]:
    """Make the person a member (with the welcome email) and mark the entry accepted; the caller commits.

    Returns (entry, already_member): someone who is already a member here is
    not added twice and gets no second welcome. Accepting twice changes nothing.
    """
    if entry.status == "accepted":
        return entry, False
    membership = existing_membership(community, entry.email)
    already = membership is not None
    if membership is None:
        membership = members.add_member(actor, community, name=entry.name, email=entry.email,
                                        organization=entry.organization, language=entry.language,
                                        role="member", welcome=True)
    previous, entry.status, entry.reviewed_at = entry.status, "accepted", now()
    entry.member_id = membership.member_id
    audit.record(actor, "intake.accept", "intake_entry", entry.id, community.id, previous=previous,
                 member=membership.member_id, already_member=already)
    return entry, already


def decline(actor: Coordinator, community: Community, entry: IntakeEntry) -> IntakeEntry:
    """Decline a pending entry (nobody is emailed); accepted entries stay accepted."""
    if entry.status != "pending":
        if entry.status == "accepted":
            raise DomainError(_("%(name)s is already a member; remove them from the member list instead.",
                                name=entry.name))
        return entry
    entry.status, entry.reviewed_at = "declined", now()
    audit.record(actor, "intake.decline", "intake_entry", entry.id, community.id)
    return entry


# --- reading --------------------------------------------------------------------------------------

def _of(community: Community, status: str):
    return select(IntakeEntry).where(IntakeEntry.community_id == community.id, IntakeEntry.status == status)


def pending_for(community: Community) -> list[IntakeEntry]:
    """The entries waiting for review, oldest first."""
    return list(db.session.scalars(_of(community, "pending").order_by(IntakeEntry.created_at, IntakeEntry.id)))


def pending_count(community: Community) -> int:
    return db.session.scalar(select(func.count()).select_from(_of(community, "pending").subquery())) or 0


def reviewed(community: Community, status: str, limit: int = 200) -> list[IntakeEntry]:
    """Accepted or declined entries, most recently reviewed first."""
    return list(db.session.scalars(_of(community, status)
                                   .order_by(IntakeEntry.reviewed_at.desc(), IntakeEntry.id.desc()).limit(limit)))


def received_extras(row) -> dict:
    """What the acknowledgement's templates need: the entry, its community and the language its person chose."""
    entry = db.session.get(IntakeEntry, row.context["intake_entry_id"])
    if entry is None:
        raise ValueError("the interest form entry no longer exists")
    return {"entry": entry, "community": db.session.get(Community, entry.community_id), "language": entry.language,
            "recipient_name": entry.name}
