"""What people type, cleaned or refused before anything stores it.

Every form field, the CSV import and the domain functions pass text, email
addresses, links, ids and dates through here, so input that would fail later
fails at the door with a message instead: PostgreSQL refuses NUL in text and
ids beyond its integer range, a control character or line break breaks an
email header or an iCalendar line, an address SMTP cannot carry makes every
email to it fail.
"""
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from service.clock import aware, now
from service.errors import DomainError

MAX_ID = 2**31 - 1  # PostgreSQL's integer, the type of every id column
MAX_EMAIL_LENGTH = 254
YEARS_AHEAD = 5  # how far ahead a meeting or a deadline may be set
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)  # no date people mean is earlier
_LINE_WHITESPACE = "\t\n\r\x0b\x0c"  # control characters that are spaces on one line


# Unicode's Cc (C0, DEL, C1) and Cs (surrogates) categories, which are fixed: one regular expression strips them
# (a category lookup per character took 28 us on a 400-character reply, the expression 1.4 us).
_CONTROL_RANGES = ((0x00, 0x1F), (0x7F, 0x9F), (0xD800, 0xDFFF))


@lru_cache(maxsize=None)
def _controls_but(keep: str) -> re.Pattern:
    """A pattern matching every control character and lone surrogate except those in `keep`."""
    kept = {ord(ch) for ch in keep}
    points = [point for low, high in _CONTROL_RANGES for point in range(low, high + 1) if point not in kept]
    ranges = []  # [low, high] runs of consecutive points
    for point in points:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return re.compile("[" + "".join(f"\\u{low:04x}-\\u{high:04x}" for low, high in ranges) + "]")


def _without_controls(value: str, keep: str) -> str:
    """The text without control characters (C0, DEL, C1) and lone surrogates, except those in `keep`."""
    return _controls_but(keep).sub("", value)


def text(value, multiline: bool = False) -> str:
    """Text as we store it: NFC, trimmed, without control characters.

    One line: every run of whitespace (tabs and line breaks included) becomes
    one space. Several lines (multiline=True): line breaks become "\\n", tabs
    stay, the text is only trimmed at its ends.
    """
    value = unicodedata.normalize("NFC", str(value or ""))
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        return _without_controls(value, keep="\t\n").strip()
    return " ".join(_without_controls(value, keep=_LINE_WHITESPACE).split())


def email_address(value) -> str:
    """An address every email can be sent to, lower-cased, its domain in ASCII (IDNA); or DomainError.

    An internationalised domain (bücher.example) is stored as its ASCII form
    (xn--bcher-kva.example), which any mail server accepts. A non-ASCII local
    part would need SMTPUTF8 all the way to the recipient, so it is refused.
    """
    raw = unicodedata.normalize("NFC", str(value or "")).strip()
    if not raw:
        raise DomainError(_("An email address is required."), "email")
    if any(ch in raw for ch in "\r\n"):
        raise DomainError(_("An email address cannot contain line breaks."), "email")
    local = raw.rpartition("@")[0]
    if not local.isascii():
        raise DomainError(_("%(address)s has accents or other non-English letters before the @, which our emails "
                            "cannot reach. Please give another address.", address=raw), "email")
    try:
        result = validate_email(raw, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise DomainError(_("%(address)s is not a valid email address.", address=raw), "email") from None
    address = result.ascii_email.lower()
    if len(address) > MAX_EMAIL_LENGTH:
        raise DomainError(_("%(address)s is not a valid email address.", address=raw), "email")
    return address


def web_link(value, field: str) -> str:
    """An http(s) link with a host and no whitespace or control character, trimmed; "" for none."""
    link = str(value or "").strip()
    if not link:
        return ""
    problem = _("The link must start with https:// and contain no spaces or line breaks.")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cs") for ch in link):
        raise DomainError(problem, field)
    try:
        parts = urlsplit(link)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number in range
    except ValueError:
        raise DomainError(problem, field) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise DomainError(problem, field)
    return link


def database_id(value) -> int:
    """A positive whole number that fits an id column; ValueError otherwise (request.args' `type=`)."""
    number = int(value)
    if not 1 <= number <= MAX_ID:
        raise ValueError(f"{value!r} is not an id")
    return number


def within_reach(moment: datetime, field: str) -> datetime:
    """A moment between EARLIEST and YEARS_AHEAD years from now, or DomainError for `field`.

    9999-12-31 or 0001-01-01 is a slip of the keyboard, and beyond what a time
    zone conversion can hold. Whether a past moment makes sense is the
    caller's rule, with its own message.
    """
    if not EARLIEST <= aware(moment) <= now() + timedelta(days=365 * YEARS_AHEAD + 1):
        raise DomainError(_("Choose a date within the next %(years)d years.", years=YEARS_AHEAD), field)
    return moment
