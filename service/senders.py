"""Whose name community mail goes out under: ours until the TTA coordinator steps back, then its leaders'.

After a step back (service.roles) every email of the community says it is
from "Ana Ruiz via Riverside COP" and a reply goes to that same name. Only
the display names change: the From address stays MAIL_DEFAULT_SENDER's (our
domain, so SPF and DKIM still pass) and the Reply-To address stays the
member's signed reply address, so an answer by reply is still recorded and
what needs a person reaches the leaders in the community's Inbox.
"""
import weakref
from email.utils import parseaddr
from functools import lru_cache

from babel.support import Translations
from sqlalchemy import select

from service.config import PROJECT_ROOT
from service.extensions import db
from service.models import Community, CommunityCoordinator, Coordinator

MAX_NAMES = 3  # a community with more leaders is sent from the first three

# The names per loaded Community object: a delivery batch keeps its community's object for hundreds of emails,
# and a query for each (with the commit of each email's outcome) tripled delivery's CPU time per message
# (bench/stepped_back.py). An object lives for one request or one batch; service.roles forgets its names
# when the leaders change.
_names: "weakref.WeakKeyDictionary[Community, list[str]]" = weakref.WeakKeyDictionary()


@lru_cache(maxsize=4)
def _translations(language: str) -> Translations:
    return Translations.load(str(PROJECT_ROOT / "translations"), [language])


def leader_names(community: Community) -> list[str]:
    """The names of the community's leader accounts, alphabetically (asked only once it stepped back)."""
    names = _names.get(community)
    if names is None:
        names = _names[community] = list(db.session.scalars(
            select(Coordinator.name).join(CommunityCoordinator, CommunityCoordinator.coordinator_id == Coordinator.id)
            .where(CommunityCoordinator.community_id == community.id, CommunityCoordinator.role == "leader")
            .order_by(Coordinator.name).limit(MAX_NAMES)))
    return names


def forget(community: Community) -> None:
    """The community's leaders changed: the next email asks for their names again."""
    _names.pop(community, None)


def display_name(community: Community | None, language: str) -> str | None:
    """The display name community mail carries in `language`, or None for ours (MAIL_DEFAULT_SENDER's)."""
    if community is None or community.stepped_back_at is None:
        return None
    names = leader_names(community)
    if not names:
        return None
    return _translations(language).gettext("%(leaders)s via %(community)s") % {
        "leaders": ", ".join(names), "community": community.name}


def sender(default_sender: str, name: str | None):
    """MAIL_DEFAULT_SENDER as it is, or its address under `name`."""
    return default_sender if name is None else (name, parseaddr(default_sender)[1])
