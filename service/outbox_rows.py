"""What the Outbox page shows of each listed email: its subject as the recipient reads it, and when it was
queued in its community's time zone.

The subject is not stored: it is the kind's subject template rendered in the
recipient's language with the objects the row points at (its meeting, form,
charter, digest issue...), loaded for the whole page at once. Only the
subject is rendered, never the body, so a page of 50 costs a query per kind of
object its rows point at.
"""
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import UndefinedError
from sqlalchemy import Label, Row, Select, func, select
from sqlalchemy.orm import selectinload

from service import bilingual
from service.clock import aware
from service.email_render import subject_line
from service.extensions import db
from service.mailer import KINDS
from service.models import (Charter, Community, DigestIssue, FormResponse, LessonModule, Meeting, Member,
                            Membership, Organization, OutboundEmail)

# The ids a row's context may carry, and the model each points at.
_OBJECTS = {"meeting_id": Meeting, "charter_id": Charter, "issue_id": DigestIssue, "module_id": LessonModule,
            "organization_id": Organization, "response_id": FormResponse}


@dataclass
class ListedEmail:
    email: Row            # SHOWN_COLUMNS of the email
    subject: str          # "" when it cannot be told (an object it pointed at is gone)
    queued_at: datetime   # in its community's time zone (UTC for an email that belongs to none)
    time_zone: str


def listed(rows: list[Row], communities: list[Community]) -> list[ListedEmail]:
    """The page's rows (`with_language`'s columns) with their subjects and local times; `communities` are those the
    rows may belong to (the page's list of the coordinator's communities)."""
    communities = {community.id: community for community in communities}
    # Held here: the session keeps loaded objects only while something refers to them.
    objects = {key: _load(model, {row.context.get(key) for row in rows},
                          FormResponse.request if model is FormResponse else None)
               for key, model in _OBJECTS.items()}
    result = []
    subjects: dict[tuple, str] = {}  # rows of one kind about the same objects share a subject: rendered once
    for row in rows:
        language = row.language
        community = communities.get(row.community_id)
        zone = community.time_zone if community else "UTC"
        key = (row.kind, language, row.community_id, json.dumps(row.context, sort_keys=True, default=str))
        if key not in subjects:
            subjects[key] = _subject(row, community, language, objects)
        result.append(ListedEmail(row, subjects[key], aware(row.created_at).astimezone(ZoneInfo(zone)), zone))
    return result


def _load(model, ids: set, *eager) -> dict:
    """The rows of `model` with these ids, by id, in one query."""
    ids = {value for value in ids if isinstance(value, int)}
    if not ids:
        return {}
    query = select(model).where(model.id.in_(ids))
    query = query.options(*(selectinload(relationship) for relationship in eager if relationship is not None))
    return {item.id: item for item in db.session.scalars(query)}


# What the page shows of an email, read as plain columns (no ORM objects to build for a page of rows).
SHOWN_COLUMNS = (OutboundEmail.id, OutboundEmail.kind, OutboundEmail.community_id, OutboundEmail.member_id,
                 OutboundEmail.recipient, OutboundEmail.context, OutboundEmail.status, OutboundEmail.attempts,
                 OutboundEmail.last_error, OutboundEmail.created_at)


def with_language(query: Select) -> Select:
    """`query`'s rows as the columns the page shows, each with its language read in the same statement: the
    member's in the row's community (as its mail uses), else the person's own, else the one its context names, else
    English. (Subqueries rather than joins: PostgreSQL plans them in a fraction of the time.)"""
    return query.with_only_columns(*SHOWN_COLUMNS, maintain_column_froms=True).add_columns(_language())


@lru_cache(maxsize=1)
def _language() -> Label:
    """with_language's column, built once (it holds no parameter of the request)."""
    here = select(Membership.language).where(Membership.member_id == OutboundEmail.member_id,
                                             Membership.community_id == OutboundEmail.community_id).scalar_subquery()
    own = select(Member.language).where(Member.id == OutboundEmail.member_id).scalar_subquery()
    return func.coalesce(func.nullif(here, ""), func.nullif(own, ""), OutboundEmail.context["language"].as_string(),
                         "en").label("language")


def _subject(row: Row, community: Community | None, language: str, objects: dict[str, dict]) -> str:
    kind = KINDS.get(row.kind)
    if kind is None:
        return ""
    context = {**row.context, **bilingual.pick_context(row.context, language), "community": community}
    for key in _OBJECTS:
        if row.context.get(key) is not None:
            context[key.removesuffix("_id")] = objects[key].get(row.context[key])
    if context.get("response") is not None:
        context["form_request"] = context["response"].request
    for name in ("meeting", "form_request"):  # their titles in the recipient's language, as the email has them
        if context.get(name) is not None:
            context[name] = bilingual.InLanguage(context[name], language)
    module = context.pop("module", None)
    context["module_title"] = bilingual.InLanguage(module, language).title if module else ""
    try:
        return subject_line(kind, language, context)
    except (UndefinedError, AttributeError, TypeError):  # an object it names is gone: no subject to show
        return ""
