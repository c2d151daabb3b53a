"""A moderator's answer to a post that waits, sent to `moderate+POST.ACCOUNT.sig@INBOUND_DOMAIN`.

The signed address names the post and the account it was sent to; From must
be that account's address, or the message is held (anyone may forward the
email). The first word of the reply decides: "approve", "aprobar" or "ok"
publishes the post; "decline" or "rechazar" declines it, the rest of the
reply being the reason its author reads. The same domain functions as the
dashboard's do it (service/conversations/moderation.py), so a post
moderated on the page first is left as it is.
"""
import re

from service import normalize
from service.conversations import moderation
from service.errors import DomainError
from service.extensions import db
from service.inbound import process, trim
from service.inbound.intent import first_line, normalized
from service.models import Community, Coordinator, Post

APPROVE_WORDS = frozenset({"approve", "approved", "aprobar", "apruebo", "aprobado", "aprobada", "ok", "okay"})
DECLINE_WORDS = frozenset({"decline", "declined", "reject", "rechazar", "rechazo", "rechazado", "rechazada"})
FIRST_WORD = re.compile(r"\W*(\w+)(.*)", re.DOTALL)


def read_command(text: str) -> tuple[str | None, str]:
    """("approve" | "decline" | None, the reason: what follows a decline's first word)."""
    line = first_line(text)
    match = FIRST_WORD.match(line)
    if not match:
        return None, ""
    word = normalized(match.group(1))
    if word in APPROVE_WORDS:
        return "approve", ""
    if word in DECLINE_WORDS:
        rest = text[text.find(line) + len(line):] if line in text else ""
        reason = (match.group(2).lstrip(" \t:;,.-–—") + rest).strip()
        return "decline", reason
    return None, ""


def handle(row, incoming, ids: tuple[int, ...]) -> None:
    """Approve or decline the post for the moderator the address belongs to, or record why not."""
    if len(ids) != 2:
        return process.finish(row, "held", reason="a moderation address of an unknown shape")
    post, account = db.session.get(Post, ids[0]), db.session.get(Coordinator, ids[1])
    if post is None or account is None:
        return process.finish(row, "held", reason="the post or the account of this moderation address no longer "
                                                  "exists")
    community = db.session.get(Community, post.community_id)
    row.community_id, row.object_kind, row.object_id = community.id, "post", post.id
    if not process.same_address(incoming.from_address, account.email):
        return process.finish(row, "held", reason=f"sent from {incoming.from_address or 'no address'}, not from "
                                                  f"the address of the moderator this address was sent to")
    if not moderation.can_moderate(account, community):
        return process.finish(row, "held", reason="the account this address was sent to no longer coordinates "
                                                  "or leads the community")
    row.text = normalize.text(trim.reply_text(incoming), multiline=True)
    command, reason = read_command(row.text)
    if command is None:
        return process.finish(row, "unclear", reason='a moderator\'s reply that says neither "approve" nor '
                                                     '"decline" and a reason: the post still waits')
    try:
        if command == "approve":
            moderation.approve(account, post, via="email")
        else:
            moderation.decline(account, post, reason, via="email")
    except moderation.Moderated as done:
        return process.finish(row, "done", "already_moderated",
                              reason=f"the post was {done.post.status} already: nothing changed", post_id=post.id)
    except DomainError as refused:
        return process.finish(row, "unclear", reason=f"{refused.message} The post still waits.")
    process.finish(row, "done", "post_approved" if command == "approve" else "post_declined", post_id=post.id)
