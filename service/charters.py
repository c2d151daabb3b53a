"""Charters: a draft written from members' answers, proposed to members, ratified by their votes, kept by version.

A community's charter is a series of versions. Only a draft is ever edited;
proposing one sends it to every active member, who approves or asks for a
change by signed link (or, later, by reply). The coordinator ratifies a
proposed version: the previous ratified one becomes superseded. Ratifying
does not change the community's stage: it is the evidence the lifecycle
checklist (service/lifecycle.py) reads to suggest the move to managing, which
the coordinator confirms, one stage at a time.
Changing a proposed or ratified text means starting a new version, so every
version members saw stays readable as it was.
A proposal has a voting deadline; the community's rules (service/charter_rules.py)
say how many must answer and approve before it can be ratified, unless the
coordinator overrides them with a reason. Members are emailed the ratified text.
"""
from dataclasses import dataclass
from datetime import datetime

from flask import render_template
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError

from service import audit, bilingual, charter_rules, community_archive, mailer, moments, normalize
from service.clock import now
from service.errors import DomainError
from service.extensions import db
from service.links import public_url
from service.markdown_text import escape_markdown, render, stored_html
from service.models import (Charter, CharterVote, Community, Coordinator, FormAnswer, FormRequest, FormResponse,
                            Member, Membership, OutboundEmail)
from service.questions import CHARTER
from service.tokens import make_token

MAX_BODY = 50_000
DECISIONS = ("approve", "change")
MAX_COMMENT = 2_000
MAX_REASON = 2_000
# The headings a new charter starts with, one per charter question.
SECTION_TITLES = {"purpose": _l("Purpose"), "goals": _l("Goals"), "membership": _l("Who belongs"),
                  "roles": _l("Roles"), "rhythm": _l("Meeting rhythm"), "decisions": _l("How we decide"),
                  "communication": _l("How we communicate"), "success": _l("What success looks like")}


STATUS_LABELS = {"draft": _l("Draft"), "proposed": _l("Proposed to members"), "ratified": _l("Ratified"),
                 "superseded": _l("Superseded")}


def status_label(code: str) -> str:
    return STATUS_LABELS.get(code, code)


def local_time(community: Community, moment) -> str:
    """A stored UTC moment as the community's local date and time, as text (a dash when there is none)."""
    return moments.text(moment, community.time_zone, str(get_locale()))


def markdown(community: Community, charter: Charter) -> str:
    """One version as Markdown to keep or share elsewhere: its text, status, dates and who approved."""
    charter_votes = votes(charter)
    return render_template("charters/export.md", charter=charter, charter_votes=charter_votes,
                           community_name=escape_markdown(community.name),  # names are plain text, not Markdown
                           approvers=[escape_markdown(vote.name) for vote in charter_votes["approve"]],
                           status_label=status_label, local=lambda moment: local_time(community, moment))


# --- versions -------------------------------------------------------------------------------------

def versions(community: Community) -> list[Charter]:
    """Every version, newest first."""
    return list(db.session.scalars(select(Charter).where(Charter.community_id == community.id)
                                   .order_by(Charter.version.desc())))


def charter_in(community: Community, charter_id: int) -> Charter | None:
    """The charter version if it belongs to this community, else None (views answer 404)."""
    return db.session.scalar(select(Charter).where(Charter.id == charter_id, Charter.community_id == community.id))


def latest(community: Community) -> Charter | None:
    return db.session.scalar(select(Charter).where(Charter.community_id == community.id)
                             .order_by(Charter.version.desc()).limit(1))


def proposed(community: Community) -> Charter | None:
    """The version members are voting on now, if any."""
    return db.session.scalar(select(Charter).where(Charter.community_id == community.id,
                                                   Charter.status == "proposed").order_by(Charter.version.desc()))


def ratified(community: Community) -> Charter | None:
    """The charter in force: the latest ratified version."""
    return db.session.scalar(select(Charter).where(Charter.community_id == community.id,
                                                   Charter.status == "ratified").order_by(Charter.version.desc()))


def starting_text() -> str:
    """A new charter's text: one heading per section, to be written from the members' answers."""
    return "\n\n".join(f"## {SECTION_TITLES[q.key]}\n" for q in CHARTER)


def _set_body(charter: Charter, body: str, body_es: str = "") -> None:
    """The Markdown text in English and in Spanish (service.bilingual), each with its sanitised HTML and plain
    text, rendered once here rather than per page or email."""
    charter.body, charter.body_es = body, body_es
    charter.body_html, charter.body_plain = render(body)
    charter.body_html_es, charter.body_plain_es = render(body_es)


def _add_version(community: Community, body: str, body_es: str = "") -> Charter:
    """A new draft with the next version number; a concurrent twin loses on the unique version."""
    number = (db.session.scalar(select(func.max(Charter.version)).where(Charter.community_id == community.id))
              or 0) + 1
    charter = Charter(community_id=community.id, version=number, status="draft")
    _set_body(charter, body, body_es)
    try:
        with db.session.begin_nested():
            db.session.add(charter)
    except IntegrityError:
        raise DomainError(_("Someone else started a new version a moment ago. Reload the page.")) from None
    return charter


def current_draft(community: Community) -> Charter | None:
    """The draft being written: version 1 is created for a community without a charter.

    None when the latest version is proposed or ratified: changing it means starting a new version.
    """
    newest = latest(community)
    if newest is None:
        return _add_version(community, starting_text())
    return newest if newest.status == "draft" else None


def new_version(actor: Coordinator | None, community: Community) -> Charter:
    """A new draft carrying the latest version's text; a version still being voted on is withdrawn."""
    newest = latest(community)
    if newest is not None and newest.status == "draft":
        return newest
    charter = _add_version(community, newest.body if newest else starting_text(), newest.body_es if newest else "")
    if newest is not None and newest.status == "proposed":
        newest.status = "superseded"  # members no longer vote on a text that is being rewritten
    audit.record(actor, "charter.new_version", "charter", charter.id, community.id, version=charter.version,
                 from_version=newest.version if newest else None)
    return charter


def save_draft(actor: Coordinator | None, charter: Charter, body: str, body_es: str | None = None) -> bool:
    """Replace a draft's Markdown text, English and (unless None) Spanish; True if it changed. Proposed and
    ratified versions are never edited."""
    if charter.status != "draft":
        raise DomainError(_("This version was already proposed, so it can no longer change. "
                            "Start a new version to edit it."))
    body = normalize.text(body, multiline=True)
    body_es = charter.body_es if body_es is None else normalize.text(body_es, multiline=True)
    for field, text in (("body", body), ("body_es", body_es)):
        if len(text) > MAX_BODY:
            raise DomainError(_("The charter is too long (at most %(num)d characters).", num=MAX_BODY), field)
    if body == charter.body and body_es == charter.body_es:
        return False
    _set_body(charter, body, body_es)
    audit.record(actor, "charter.save", "charter", charter.id, charter.community_id, version=charter.version,
                 length=len(body), length_es=len(body_es))
    return True


# --- members' answers -----------------------------------------------------------------------------

def latest_request(community: Community) -> FormRequest | None:
    """The community's most recent charter questionnaire."""
    return db.session.scalar(select(FormRequest).where(FormRequest.community_id == community.id,
                                                       FormRequest.kind == "charter")
                             .order_by(FormRequest.created_at.desc(), FormRequest.id.desc()).limit(1))


def answers_by_section(community: Community) -> list[dict]:
    """Per charter question, in order: the submitted answers of the latest charter request.

    Each answer is {"name", "organization", "text"}; members are ordered by name. Empty answers are left out.
    """
    request = latest_request(community)
    found: dict[str, list[dict]] = {q.key: [] for q in CHARTER}
    if request is not None:
        rows = db.session.execute(
            select(FormAnswer.question, FormAnswer.value_text, Membership)
            .join(FormResponse, FormAnswer.response_id == FormResponse.id)
            .join(Membership, and_(Membership.member_id == FormResponse.member_id,
                                   Membership.community_id == community.id))
            .where(FormResponse.request_id == request.id, FormResponse.status == "submitted",
                   FormAnswer.question.in_(list(found)))
            .order_by(func.lower(Membership.name), Membership.member_id)).all()
        for question, text, membership in rows:
            if text and text.strip():
                found[question].append({"name": membership.name, "text": text.strip(), "organization":
                                        membership.organization.name if membership.organization else ""})
    return [{"question": q, "title": SECTION_TITLES[q.key], "answers": found[q.key]} for q in CHARTER]


def respondents(community: Community) -> int:
    """How many members submitted the latest charter questionnaire."""
    request = latest_request(community)
    if request is None:
        return 0
    return db.session.scalar(select(func.count()).select_from(FormResponse).where(
        FormResponse.request_id == request.id, FormResponse.status == "submitted")) or 0


# --- proposing and voting -------------------------------------------------------------------------

def _active_members(community: Community) -> list[Member]:
    return list(db.session.scalars(select(Member).join(Membership).where(
        Membership.community_id == community.id, Membership.status == "active").order_by(Member.id)))


def propose(actor: Coordinator | None, charter: Charter, deadline_at: datetime | None = None) -> int:
    """Send a draft to every active member for their approval, voting open until `deadline_at` (by default the
    end of the day DEFAULT_DEADLINE_DAYS from now); returns how many emails were queued."""
    if charter.status != "draft":
        raise DomainError(_("Only a draft can be proposed."))
    bilingual.require_one(charter.body, charter.body_es, "body", _("Write the charter before proposing it."))
    community = db.session.get(Community, charter.community_id)
    if deadline_at is None:
        deadline_at = charter_rules.deadline_from_date(community, charter_rules.default_deadline_day(community))
    recipients = _active_members(community)
    if not recipients:
        raise DomainError(_("The community has no active members to ratify the charter."))
    charter.status, charter.proposed_at, charter.deadline_at = "proposed", now(), deadline_at
    db.session.flush()
    queued = mailer.queue_bulk("charter_proposal", recipients,
                               key_for=lambda m: f"charter:{charter.id}:{m.id}",
                               context_for=lambda m: {"charter_id": charter.id}, community=community)
    audit.record(actor, "charter.propose", "charter", charter.id, community.id, version=charter.version,
                 recipients=len(recipients), deadline=deadline_at.isoformat())
    return queued


def is_member(community_id: int, member: Member) -> bool:
    """Whether the member is (still) an active member of the community."""
    return db.session.scalar(select(Membership.id).where(
        Membership.community_id == community_id, Membership.member_id == member.id,
        Membership.status == "active")) is not None


def vote_of(charter: Charter, member: Member) -> CharterVote | None:
    return db.session.scalar(select(CharterVote).where(CharterVote.charter_id == charter.id,
                                                       CharterVote.member_id == member.id))


def vote(charter: Charter, member: Member, decision: str, comment: str = "") -> CharterVote:
    """A member approves the proposed charter or asks for a change; a second vote replaces the first."""
    if decision not in DECISIONS:
        raise DomainError(_("Choose to approve the charter or to ask for a change."))
    community_archive.refuse_if_archived(charter.community_id)
    if charter.status != "proposed" or charter_rules.is_closed(charter):
        raise DomainError(_("This version of the charter is no longer open for answers."))
    if not is_member(charter.community_id, member):
        raise DomainError(_("Only active members of the community can answer."))
    comment = normalize.text(comment, multiline=True)
    if len(comment) > MAX_COMMENT:
        raise DomainError(_("The comment is too long (at most %(num)d characters).", num=MAX_COMMENT), "comment")
    if decision == "change" and not comment:
        raise DomainError(_("Tell us what you would change."), "comment")
    existing = vote_of(charter, member)
    if existing is None:
        existing = CharterVote(charter_id=charter.id, member_id=member.id, decision=decision, comment=comment)
        try:
            with db.session.begin_nested():
                db.session.add(existing)
        except IntegrityError:  # a double click raced us: update the row it created
            existing = vote_of(charter, member)
    previous = existing.decision
    existing.decision, existing.comment, existing.decided_at = decision, comment, now()
    audit.record(None, "charter.vote", "charter", charter.id, charter.community_id, member_id=member.id,
                 decision=decision, previous=previous if previous != decision else None)
    return existing


@dataclass
class CastVote:
    """A vote with the voter as the charter's community knows them."""
    name: str
    organization: str
    comment: str
    decided_at: datetime


def votes(charter: Charter) -> dict:
    """Who approved, who asked for a change (CastVotes, with comments), and the active memberships not answered."""
    in_community = Membership.community_id == charter.community_id
    rows = db.session.execute(select(CharterVote, Membership)
                              .join(Membership, and_(Membership.member_id == CharterVote.member_id, in_community))
                              .where(CharterVote.charter_id == charter.id)
                              .order_by(func.lower(Membership.name))).all()
    cast = {decision: [CastVote(m.name, m.organization.name if m.organization else "", vote.comment, vote.decided_at)
                       for vote, m in rows if vote.decision == decision] for decision in ("approve", "change")}
    voted = {vote.member_id for vote, _m in rows}
    waiting = db.session.scalars(select(Membership).where(in_community, Membership.status == "active")
                                 .order_by(func.lower(Membership.name))).all()
    return {**cast, "waiting": [m for m in waiting if m.member_id not in voted]}


def ratify(actor: Coordinator | None, charter: Charter, override_reason: str = "") -> Charter:
    """Make a proposed version the charter in force and email it to the members.

    Below the community's rules it is refused with the figures, unless the coordinator gives a reason
    to override them, kept on the version and in the audit trail. The stage waits for the coordinator
    (service/lifecycle.py).
    """
    if charter.status != "proposed":
        raise DomainError(_("Only a proposed charter can be ratified."))
    count = charter_rules.tally(charter)
    reason = normalize.text(override_reason or "", multiline=True)
    if len(reason) > MAX_REASON:
        raise DomainError(_("The reason is too long (at most %(num)d characters).", num=MAX_REASON), "reason")
    if not count.met and not reason:
        raise DomainError(" ".join([_("The votes do not meet the community's rules yet.")] + count.shortfalls()
                                   + [_("To ratify anyway, give your reason.")]), "reason")
    community = db.session.get(Community, charter.community_id)
    previous = ratified(community)
    if previous is not None:
        previous.status = "superseded"
    charter.status, charter.ratified_at = "ratified", now()
    charter.override_reason = None if count.met else reason
    counts = {decision: len(rows) for decision, rows in votes(charter).items()}
    audit.record(actor, "charter.ratify", "charter", charter.id, community.id, version=charter.version,
                 superseded_version=previous.version if previous else None, votes=counts,
                 **({} if count.met else {"override": {
                     "reason": reason, "active": count.active, "answered": count.answered,
                     "approved": count.approved, "answers_needed": count.answers_needed,
                     "approvals_needed": count.approvals_needed}}))
    db.session.flush()
    mailer.queue_bulk("charter_ratified", _active_members(community),
                      key_for=lambda m: f"charter-ratified:{charter.id}:{m.id}",
                      context_for=lambda m: {"charter_id": charter.id}, community=community)
    return charter


# --- links and email ------------------------------------------------------------------------------

def member_url(charter: Charter, member: Member) -> str:
    """The member's signed link to read (and, while proposed, answer) this charter version."""
    return public_url("charter_links.show", charter_id=charter.id, token=make_token("charter", member.id, charter.id))


def email_extras(row: OutboundEmail, member: Member, community: Community) -> dict:
    """What charter emails (proposal, reminder, ratified) show at send time: the text, rendered and sanitised,
    the member's link and the voting deadline in their language."""
    charter = bilingual.InLanguage(db.session.get(Charter, row.context["charter_id"]), member.language)
    return {"charter": charter, "written_in": charter.written_in, "charter_text": charter.body_plain,
            "charter_html": stored_html(charter.body_html),
            "charter_url": member_url(charter, member),
            "deadline": charter_rules.deadline_text(charter, community, member.language)}


def digest_extras(community: Community, member: Member) -> dict:
    """The digest's "Our charter" line: the ratified version and the member's link to it, or nothing."""
    charter = ratified(community)
    if charter is None:
        return {"charter": None, "charter_url": ""}
    return {"charter": charter, "charter_url": member_url(charter, member)}
