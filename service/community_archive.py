"""Archiving a community: it sends nothing and its dashboard pages are read-only until it is restored.

The mail is stopped where every email passes (service/mailer.py when it is
queued, service/delivery.py again when it is sent), so no kind of mail can
forget it; the outbox row says why it was not sent. Read-only is enforced for
every POST that names the community (service/views/community_export.py), and members' answers by any
way in are refused by the domain functions (refuse_if_archived).
"""
from flask_babel import gettext as _

from service import audit
from service.clock import now
from service.communities import role_in
from service.errors import DomainError
from service.extensions import db
from service.models import Community, Coordinator

# Who may download, archive and restore a community: those who run it (an observer only looks).
RUNS_IT = ("admin", "coordinator", "leader")


def may_run(actor: Coordinator, community: Community) -> bool:
    return role_in(actor, community.id) in RUNS_IT


def archive(actor: Coordinator | None, community: Community) -> None:
    """Stop all of the community's mail and changes; audited (the caller commits)."""
    if community.archived_at is not None:
        raise DomainError(_("This community is already archived."))
    community.archived_at = now()
    audit.record(actor, "community.archive", "community", community.id, community.id)


def restore(actor: Coordinator | None, community: Community) -> None:
    """Let the community send and change again; what fell due while it was archived stays unsent."""
    if community.archived_at is None:
        raise DomainError(_("This community is not archived."))
    archived_at, community.archived_at = community.archived_at, None
    audit.record(actor, "community.restore", "community", community.id, community.id,
                 archived_at=archived_at.isoformat())


def refuse_if_archived(community_id: int) -> None:
    """Members' answers (an RSVP, a vote, a form, a practice; by link, reply or calendar button) are refused while
    their community is archived: the domain functions call this, whatever the way in."""
    community = db.session.get(Community, community_id)  # no query when this transaction has loaded it already
    if community is not None and community.archived_at is not None:
        raise DomainError(_("This community is archived: it no longer takes answers."))


def panel(actor: Coordinator, community: Community) -> dict:
    """What the community page's export and archive section shows this account."""
    return {"may_run": may_run(actor, community), "archived_at": community.archived_at}
