"""A message to the community's address that is a command, not a post: "digest", "no conversations",
"every message" or "mute" (and their Spanish), written alone.

Detection is strict on purpose: the member's whole message (quote and
signature removed), ignoring case, accents and punctuation, must be one of
these phrases. "Digest: what do you all send families?" is a post. Only when
the message has no words of its own does its subject count (a command typed
in the subject line of a new message).
"""
from service.inbound.intent import normalized, subject_without_prefixes

# Each command's phrases, as `intent.normalized` writes them.
PHRASES = {
    "digest": ("digest", "digest mode", "resumen", "modo resumen"),
    "none": ("no conversations", "sin conversaciones", "ninguna conversacion"),
    "every": ("every message", "all messages", "todos los mensajes", "cada mensaje"),
    "mute": ("mute", "mute this", "mute this conversation", "silenciar", "silenciar esta conversacion"),
}
COMMANDS = {phrase: command for command, phrases in PHRASES.items() for phrase in phrases}
CHOICES = ("every", "digest", "none")  # the commands that set Membership.conversations


def command_in(text: str, subject: str = "") -> str | None:
    """'every', 'digest', 'none' or 'mute' when the message is only that command; None for a post."""
    words = normalized(text or "") if (text or "").strip() else normalized(subject_without_prefixes(subject))
    return COMMANDS.get(words)
