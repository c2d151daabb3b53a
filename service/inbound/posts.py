"""A message to a community's own address, read as a post to its conversations.

Who wrote it is the From address: it must be an active member of that
community (mailing lists work the same way; the address is public, so it
carries no signature). Mail no person wrote never becomes a post and is
never answered (process.py ignores it before it gets here).
"""
from sqlalchemy import select

from service import normalize
from service.conversations import attachments, posting, quotes, refusals
from service.conversations.addresses import slug_of
from service.conversations.content import clean_html
from service.errors import DomainError
from service.extensions import db
from service.inbound import conversation_commands, process, trim
from service.models import Community, Member


def handle(row, incoming) -> None:
    """Post the message to its community's conversations, or record why not."""
    community = db.session.scalar(select(Community).where(Community.slug == slug_of(row.envelope_to)))
    if community is None:
        return process.finish(row, "held", reason="sent to a community address that no community has")
    row.community_id = community.id
    if community.archived_at is not None:
        return process.finish(row, "held", reason="the community is archived: nothing is posted")
    member = db.session.scalar(select(Member).where(Member.email == _stored_form(incoming.from_address)))
    membership = posting.membership_of(community, member)
    if membership is None:
        refused = refusals.refuse(row, incoming, community)
        return process.finish(row, "held", "not_a_member",
                              reason=f"{incoming.from_address or 'no sender'} is not an active member of this "
                                     f"community: not posted" + ("; they were told so" if refused else ""))
    row.member_id = member.id
    text = normalize.text(trim.reply_text(incoming), multiline=True)
    if conversation_commands.handle(row, incoming, community, membership, text):
        return None  # "digest", "mute"...: a member's choice, confirmed to them, never posted
    if not text:
        return process.finish(row, "unclear", reason="empty: no words of the member's own to post")
    files = attachments.files_in(incoming.message)
    try:
        attachments.check(community, files)
    except attachments.Refused as refused:
        attachments.refuse(row, incoming, member, community, refused)
        return process.finish(row, "held", "attachment_refused", filename=refused.filename,
                              reason=f"not posted: {refused.filename} is {_refusal_reason(refused, community)}; "
                                     f"the member was told")
    post = posting.submit(community, membership, incoming.subject, text,
                          html=clean_html(quotes.own_html(incoming.html or "")),
                          original_message_id=incoming.message_id, in_reply_to=incoming.in_reply_to,
                          references=incoming.references, inbound_message_id=row.id, files=files)
    row.object_kind, row.object_id = "post", post.id
    process.finish(row, "done", "post_waiting" if post.status == "waiting" else "post", post_id=post.id,
                   conversation_id=post.conversation_id)


def _refusal_reason(refused, community: Community) -> str:
    if refused.why == "executable":
        return "a program, which posts never carry"
    if refused.why == "too_many":
        return f"one file more than the {attachments.MAX_FILES} a post may carry"
    return f"{refused.size // 1024} KB, over the community's limit of {community.attachment_limit_kb} KB"


def _stored_form(address: str) -> str:
    """The address as member addresses are stored (lower case, ASCII domain), '' when it is not one."""
    try:
        return normalize.email_address(address) if address else ""
    except DomainError:
        return ""
