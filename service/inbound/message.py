"""Reading a received message without trusting it: limits, charsets, HTML-only bodies, never an exception.

Everything downstream (who sent it, what it answers, what it says) reads an
`Incoming`, so the parsing risks live here: a malformed MIME tree, a charset
Python does not know, a part nested a thousand deep, an HTML body with
scripts. What could not be read is listed in `problems`, never raised.
"""
import re
from dataclasses import dataclass, field
from functools import lru_cache
from email import message_from_bytes
from email.headerregistry import BaseHeader, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from flask import current_app

from service import normalize

MESSAGE_ID = re.compile(r"<[^<>\s\x00-\x1f\x7f]{1,250}>")
MAX_HEADER_CHARS = 2000        # a header longer than this is cut before we look at it
MAX_HEADER_BLOCK = 256 * 1024   # the header block we parse (as store.py reads it)
HEADER_END = re.compile(rb"\r?\n\r?\n")
MAX_PARSED_HEADER_CHARS = 20_000  # the raw value the header parser is given (its time grows with the length)
MAX_TEXT_CHARS = 100_000       # the body text we read (a reply is short; the rest is quoted history)
CHECKED_HEADERS = ("auto-submitted", "precedence", "x-autoreply", "x-autorespond", "x-auto-response-suppress",
                   "return-path", "list-id", "list-unsubscribe", "delivered-to", "x-original-to", "to", "cc",
                   "content-type", "x-failed-recipients", "feedback-type", "x-loop")


class UnreadableHeader(UnstructuredHeader, BaseHeader):
    """A header the structured parser could not take, kept as the text it is."""


class BoundedPolicy(EmailPolicy):
    """The default policy, except that a header value is cut before it is parsed (the structured-header
    parser takes seconds on a megabyte-long line, and a worker must not), a header it cannot parse
    (comments nested thousands deep make it recurse until Python stops it) is read as plain text, so that
    nothing that reads a header (ours, or bounce processing's) raises, and a value parsed once is not
    parsed again (the standard library parses Content-Type anew on every get_content_type(): a quarter of
    a reply's processing time went there)."""

    def header_fetch_parse(self, name, value):
        if hasattr(value, "name"):
            return value
        return _parsed_header(self, name, value[:MAX_PARSED_HEADER_CHARS])


@lru_cache(maxsize=1024)
def _parsed_header(policy: EmailPolicy, name: str, value: str):
    """A parsed header (immutable, so one object may serve every message that carries the same line)."""
    try:
        return EmailPolicy.header_fetch_parse(policy, name, value)
    except Exception:
        return UnreadableHeader(name, "".join(value.splitlines()))


BOUNDED = BoundedPolicy()


@dataclass
class Incoming:
    message: EmailMessage | None
    from_address: str = ""
    from_name: str = ""
    subject: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    text: str = ""
    html: str | None = None
    calendar_parts: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_message(raw: bytes) -> Incoming:
    """The message as far as it can be read; what could not be read is in `problems`."""
    problems: list[str] = []
    try:
        message = message_from_bytes(_bounded(raw, current_app.config["INBOUND_MAX_PARTS"], problems),
                                     policy=BOUNDED)
    except Exception as error:  # the parser is lenient; this is for what even it cannot take
        return Incoming(message=None, problems=problems + [f"unreadable message: {type(error).__name__}"])
    incoming = Incoming(message=message, problems=problems)
    found = _first_headers(message)
    incoming.headers = {name: _header(found, name, incoming.problems) for name in CHECKED_HEADERS if name in found}
    incoming.from_name, incoming.from_address = _sender(_header(found, "from", incoming.problems))
    incoming.subject = normalize.text(_header(found, "subject", incoming.problems))[:255]
    incoming.message_id = (message_ids(_header(found, "message-id", incoming.problems)) or [""])[0]
    incoming.in_reply_to = (message_ids(_header(found, "in-reply-to", incoming.problems)) or [""])[0]
    incoming.references = message_ids(_header(found, "references", incoming.problems, limit=20_000))[-50:]
    _read_parts(message, incoming)
    return incoming


def _bounded(raw: bytes, max_parts: int, problems: list[str]) -> bytes:
    """The bytes the parser is given: a header block cut at MAX_HEADER_BLOCK, and the body cut after the
    delimiter lines of the parts we read. The parser's time grows with every header line and every part
    (it parses each part's Content-Type several times: 60,000 empty parts fit in 2 MB and took 48 s)."""
    blank = HEADER_END.search(raw)
    end = blank.start() if blank else len(raw)
    if end > MAX_HEADER_BLOCK:
        raw = raw[:raw.rfind(b"\n", 0, MAX_HEADER_BLOCK) + 1] + raw[end:]
        problems.append(f"header block over {MAX_HEADER_BLOCK // 1024} KB: the rest of it not read")
    delimiters = 2 * max_parts + 10  # an opening and maybe a closing delimiter line per part
    if raw.count(b"\n--") > delimiters:
        position = -1
        for _ in range(delimiters):
            position = raw.find(b"\n--", position + 1)
        raw = raw[:position + 1]
        problems.append(too_many_parts(max_parts))
    return raw


def too_many_parts(max_parts: int) -> str:
    return f"more than {max_parts} parts: the rest not read"


def message_ids(value: str) -> list[str]:
    """The <...> message ids in a header value, in order."""
    return MESSAGE_ID.findall(value or "")


READ_HEADERS = frozenset((*CHECKED_HEADERS, "from", "subject", "message-id", "in-reply-to", "references"))


def _first_headers(message: EmailMessage) -> dict[str, tuple[str, str]]:
    """The raw value of the first of each header we read, by lower-case name, in one pass over the header block
    (message.get scans every header for each name asked; asking 21 names so, read_message took 1.0 ms CPU a
    message of bench/inbound.py's corpus, 0.7 ms in one pass)."""
    found = {}
    for name, value in message.raw_items():
        key = name.lower()
        if key in READ_HEADERS and key not in found:
            found[key] = (name, value)
    return found


def _header(found: dict, name: str, problems: list[str], limit: int = MAX_HEADER_CHARS) -> str:
    """The value of header `name` (`found` by _first_headers) parsed as the message's policy does, as text."""
    raw = found.get(name)
    value = BOUNDED.header_fetch_parse(*raw) if raw is not None else None
    if isinstance(value, UnreadableHeader):
        problems.append(f"unreadable {name} header: read as plain text")
    return str(value)[:limit] if value is not None else ""


def addresses(value: str) -> list[tuple[str, str]]:
    """(name, address) pairs of a header value; none when it cannot be read (comments nested too deep make
    the standard parser recurse until Python stops it)."""
    try:
        return getaddresses([value])
    except RecursionError:
        return []


def address_of(value: str) -> tuple[str, str]:
    """parseaddr that never raises."""
    try:
        return parseaddr(value)
    except RecursionError:
        return "", ""


def _sender(value: str) -> tuple[str, str]:
    name, address = address_of(value)
    address = normalize.text(address).lower()
    return normalize.text(name)[:200], address if "@" in address and len(address) <= 254 else ""


def _read_parts(message: EmailMessage, incoming: Incoming) -> None:
    """Body text (plain preferred, else HTML made text), HTML and calendar parts, within the part limits."""
    config = current_app.config
    plain, html, seen = None, None, []
    for part, depth, number in _walk(message, config["INBOUND_MAX_DEPTH"], incoming.problems):
        if number >= config["INBOUND_MAX_PARTS"]:
            if too_many_parts(config["INBOUND_MAX_PARTS"]) not in incoming.problems:
                incoming.problems.append(too_many_parts(config["INBOUND_MAX_PARTS"]))
            break
        seen.append(part)
        content_type = part.get_content_type()
        if part.is_multipart():
            continue
        if part.get_content_maintype() == "multipart":  # no boundary (or none found): its text as written
            plain = _decoded(part, incoming.problems) if plain is None else plain
            continue
        if content_type == "text/calendar" or (part.get_filename() or "").lower().endswith(".ics"):
            incoming.calendar_parts.append(_decoded(part, incoming.problems))
        elif part.get_content_disposition() == "attachment":
            continue
        elif content_type == "text/plain" and plain is None:
            plain = _decoded(part, incoming.problems)
        elif content_type == "text/html" and html is None:
            html = _decoded(part, incoming.problems)
    for part in seen:  # after decoding: bad base64 or quoted-printable is found then
        _note_defects(part, incoming.problems)
    incoming.html = html
    text = plain if plain is not None and plain.strip() else (html_to_text(html) if html else "")
    incoming.text = normalize.text(text[:MAX_TEXT_CHARS], multiline=True)  # NUL and other controls out


def _note_defects(part, problems: list[str]) -> None:
    """The parser's findings on malformed MIME (it reads on; a coordinator may want to know why text is odd)."""
    for defect in part.defects[:5]:
        note = f"malformed MIME: {type(defect).__name__}"
        if note not in problems and len(problems) < 20:
            problems.append(note)


def _walk(message: EmailMessage, max_depth: int, problems: list[str]):
    """(part, depth, number) depth first, not below max_depth; a message/rfc822 part is not opened."""
    stack, number = [(message, 0)], 0
    while stack:
        part, depth = stack.pop()
        yield part, depth, number
        number += 1
        if part.is_multipart() and part.get_content_type() != "message/rfc822":
            if depth + 1 > max_depth:
                problems.append(f"parts nested deeper than {max_depth}: not read")
                continue
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend((child, depth + 1) for child in reversed(children))


def _decoded(part, problems: list[str]) -> str:
    """The part's text in its charset; an unknown or lying charset is read as UTF-8, else as Windows-1252
    (what mislabelled Western European mail almost always is), else with replacement characters."""
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        pass
    for fallback in ("utf-8", "windows-1252"):
        try:
            text = payload.decode(fallback)
        except UnicodeDecodeError:
            continue
        problems.append(f"text not in its declared charset {charset[:40]!r}: read as {fallback}")
        return text
    problems.append(f"text not in its declared charset {charset[:40]!r}: read with replacement characters")
    return payload.decode("utf-8", errors="replace")


class _TextFromHtml(HTMLParser):
    """HTML to plain text: block elements end lines, <blockquote> lines are quoted with '> ', scripts dropped."""
    BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr"}
    SKIPPED = {"script", "style", "head", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote_depth = 0
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag == "blockquote":
            self._end_line()
            self.quote_depth += 1
        elif tag in self.BLOCKS:
            self._end_line()

    def handle_endtag(self, tag):
        if tag in self.SKIPPED:
            self.skipping = max(self.skipping - 1, 0)
        elif tag == "blockquote":
            self._end_line()
            self.quote_depth = max(self.quote_depth - 1, 0)
        elif tag in self.BLOCKS:
            self._end_line()

    def handle_data(self, data):
        if self.skipping:
            return
        words = " ".join(data.split())
        if words:
            if not self.lines[-1]:
                self.lines[-1] = "> " * self.quote_depth
            elif not self.lines[-1].endswith(" "):
                self.lines[-1] += " "
            self.lines[-1] += words

    def _end_line(self):
        if self.lines[-1].strip():
            self.lines.append("")

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines).strip()


def html_to_text(html: str) -> str:
    """The words of an HTML body as plain text (never markup: nothing of it is rendered as HTML anywhere)."""
    parser = _TextFromHtml()
    try:
        parser.feed(html[:MAX_TEXT_CHARS * 5])
        parser.close()
    except Exception:  # HTMLParser is lenient; this guards against what it still rejects
        pass
    return parser.text()
