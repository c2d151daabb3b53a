"""A command sent to a community's address ("digest", "no conversations", "every message", "mute"), acted on
instead of posted, and confirmed to the member by email.

"mute" names the conversation it answers (In-Reply-To / References, else a
"Re:" subject, as a reply joins a thread); when it answers none, nothing is
muted and the member is told how to mute one.
"""
from service.conversations import choices, commands, threads
from service.inbound import process
from service.inbound.confirmations import confirm
from service.models import Community, Membership

KIND = "reply_conversations"


def handle(row, incoming, community: Community, membership: Membership, text: str) -> bool:
    """Act on the message if it is a command (True: done, confirmed, not to be posted); False for a post."""
    command = commands.command_in(text, incoming.subject)
    if command is None:
        return False
    row.text = text or incoming.subject or ""
    member = membership.member
    if command in commands.CHOICES:
        changed = choices.set_choice(membership, command, via="email")
        process.finish(row, "done", "conversations_choice", choice=command, changed=changed)
        confirm(KIND, row, incoming, member, community, command=command, changed=changed, conversation_id=None,
                subject="")
        return True
    answered = threads.answered_post(community, incoming.in_reply_to, incoming.references)
    conversation = answered.conversation if answered else threads.conversation_by_subject(community,
                                                                                        incoming.subject)
    if conversation is None:
        process.finish(row, "done", "conversation_mute", reason="asked to mute, but the message answers no "
                                                                  "conversation: nothing muted")
        confirm(KIND, row, incoming, member, community, command=command, changed=False, conversation_id=None,
                subject="")
        return True
    changed = choices.mute(member, conversation, via="email")
    row.object_kind, row.object_id = "conversation", conversation.id
    process.finish(row, "done", "conversation_mute", conversation_id=conversation.id, changed=changed)
    confirm(KIND, row, incoming, member, community, command=command, changed=changed,
            conversation_id=conversation.id, subject=conversation.subject)
    return True
