"""A community's own address, `<slug>@INBOUND_DOMAIN`, where members write to start or join a conversation.

The slug is made from the community's name when the community is first saved
(every way one is created: the dashboard, an import, the demo) and is unique.
Unlike our signed addresses (`purpose+ids.signature`) it has no "+", so the
two can never be mistaken for each other; names that mail servers reserve,
and the local part of our own sender address, are never given out.
"""
import re
import unicodedata

from flask import current_app
from sqlalchemy import event, select

from service.models import Community

MAX_SLUG = 40
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
RESERVED = frozenset({"postmaster", "abuse", "mailer-daemon", "hostmaster", "webmaster", "noreply", "no-reply",
                      "admin", "administrator", "root", "security", "bounce", "bounces", "unsubscribe", "reply",
                      "calendar", "moderate", "owner", "request", "help", "info", "support"})


def community_address(community: Community) -> str:
    return f"{community.slug}@{current_app.config['INBOUND_DOMAIN']}"


def slug_of(address: str) -> str | None:
    """The slug when `address` is a community address's shape at our inbound domain, else None (whether a
    community has it is for the caller to look up)."""
    local, _, domain = (address or "").strip().strip("<>").lower().rpartition("@")
    if domain != current_app.config["INBOUND_DOMAIN"].lower() or not SLUG.fullmatch(local):
        return None
    return local


def base_slug(name: str) -> str:
    """The name as an address's local part: ASCII letters and digits, words joined by hyphens."""
    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:MAX_SLUG].strip("-")
    return slug or "community"


def _unavailable() -> set[str]:
    sender_local = current_app.config["MAIL_DEFAULT_SENDER"].rpartition("<")[2].rstrip(">").partition("@")[0]
    return RESERVED | {sender_local.lower()}


def free_slug(name: str, taken) -> str:
    """`base_slug(name)`, or it with the first free number after it (`casa-verde-2`), avoiding `taken`
    (a callable: slug -> bool) and reserved names."""
    base, unavailable = base_slug(name), _unavailable()
    candidate, number = base, 1
    while candidate in unavailable or taken(candidate):
        number += 1
        candidate = f"{base[:MAX_SLUG - len(str(number)) - 1]}-{number}"
    return candidate


@event.listens_for(Community, "before_insert")
def _give_slug(_mapper, connection, community: Community) -> None:
    if community.slug:
        return
    community.slug = free_slug(community.name, lambda slug: connection.scalar(
        select(Community.id).where(Community.slug == slug)) is not None)
