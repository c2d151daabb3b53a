"""What the member wrote in a reply: the quoted message, quote headers and signature removed.

Two maintained trimmers were measured on the project's corpus of replies
(tests/fixtures/inbound/replies/, `python -m bench.reply_trimmers`):
quotequail finds the attribution line ("On ... wrote:", "El ... escribió:",
"-----Original Message-----") in every client's shape, including lines Gmail
wraps; mail-parser-reply knows Outlook's header blocks without a separator
("From: / Sent: / To:", "De: / Enviado: / Para:"), the phone footers ("Sent
from my iPhone", "Enviado desde mi iPhone", "Get Outlook for iOS") and
sign-offs. Neither reads a bottom-posted reply. So quotequail cuts at the
attribution, mail-parser-reply cleans what is left, and the glue here only
adds the rules both miss: RFC 3676's signature separator ("-- "), a reply
written below the quote, and Spanish Outlook's "Enviado el:" header block.
"""
import re

import quotequail
from mailparser_reply import EmailMessage

LANGUAGES = ["en", "es"]
# mail-parser-reply's patterns take time growing with the square of a line's length (a 4,000-character line
# starting "On " took a second) and of a run of blank lines: it sees long lines as a placeholder (no quote
# header or footer is that long) and blank lines already folded.
LONG_LINE = 300
SIGNATURE_SEPARATOR = re.compile(r"^-- ?$", re.MULTILINE)
QUOTED_LINE = re.compile(r"^\s*>")
# Outlook's quote header when no separator line comes first; Spanish Outlook writes "Enviado el:", which
# mail-parser-reply's pattern misses.
HEADER_BLOCK = re.compile(
    r"^[ \t]*\**(?:From|De)\**: .*\n(?:[ \t]*\**(?:Sent|Date|Enviado(?: el)?|Fecha|To|Para|Cc|CC|Subject|Asunto)\**:.*(?:\n|$))+",
    re.MULTILINE)


def reply_text(incoming) -> str:
    """The member's own words in `incoming` (an inbound.message.Incoming), as plain text; '' if none."""
    text = (incoming.text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = _before_signature(text)
    above, below = _split_at_quote(text)
    own = above if above.strip() else below
    own = _without_client_footers(_tidy(_before_header_block(own)))
    return _tidy(_unquoted_lines(own))


def _before_signature(text: str) -> str:
    """Text above the first "-- " line that is not itself inside a quote (RFC 3676 4.3)."""
    match = SIGNATURE_SEPARATOR.search(text)
    return text[:match.start()] if match else text


def _split_at_quote(text: str) -> tuple[str, str]:
    """(text above the quoted message, what the member wrote below it: its unquoted lines)."""
    parts = quotequail.quote(text, quote_intro_line=True)
    above = "\n".join(part for expanded, part in parts if expanded)
    if len(parts) < 2 or above.strip():
        return above, ""
    rest = "\n".join(part for expanded, part in parts if not expanded).split("\n")
    # The attribution line itself is the first line of the quoted part; what follows it unquoted is the reply.
    return above, "\n".join(rest[1:])


def _before_header_block(text: str) -> str:
    """Text above an Outlook-style "From: / Sent: / To:" block (the quoted message starts there)."""
    match = HEADER_BLOCK.search(text)
    return text[:match.start()] if match else text


def _without_client_footers(text: str) -> str:
    """Drop Outlook header blocks, phone footers and sign-offs that quotequail leaves."""
    if not text.strip():
        return ""
    lines = text.split("\n")
    long_lines = {f"longline{number}placeholder": line for number, line in enumerate(lines) if len(line) > LONG_LINE}
    skeleton = [f"longline{number}placeholder" if len(line) > LONG_LINE else line for number, line in enumerate(lines)]
    message = EmailMessage(text="\n".join(skeleton), languages=list(LANGUAGES), keep_hyphen_lists=True).read()
    kept = message.replies[0].body if message.replies else text
    return "\n".join(long_lines.get(line.strip(), line) for line in kept.split("\n"))


def _unquoted_lines(text: str) -> str:
    """Lines the member wrote, without any '>' lines a client left in (an interleaved quote)."""
    return "\n".join(line for line in text.split("\n") if not QUOTED_LINE.match(line))


def _tidy(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row, no blank lines around."""
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
