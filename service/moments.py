"""One way to show a date or time to a person: in the reader's language and the community's time zone.

Every page and email writes a stored moment through `text` (or `html` on pages, which wraps it in
`<time datetime="…Z">` so the exact UTC moment stays machine-readable). The styles:

- "moment": weekday, date, time and the zone's name ("Tuesday, March 3, 2026 6:00 PM, Mountain Time
  (Denver)"), for a moment read on its own: an invitation, a deadline;
- "short": "Tue, Mar 3, 2026, 6:00 PM", for tables and lists on pages that say their zone once;
- "day": "Mar 3, 2026", the date alone;
- "time": "6:00 PM", the time alone;
- "month": "March 2026", for figures counted month by month.

A moment that belongs to no community (mail that named none, the service-wide pause of delivery after the
mail server refused us) is shown in UTC, and says so. Calendar files, `datetime` attributes, audit details,
the export's community.json and headers keep ISO 8601 in UTC instead: programs read them, not people.
"""
from datetime import date, datetime, time, timezone
from functools import lru_cache
from typing import Callable
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import DateTimePattern, format_time, match_skeleton, parse_pattern
from markupsafe import Markup

from service.clock import aware
from service.time_zones import zone_name

STYLES = ("moment", "short", "day", "time", "month")
NOTHING = "—"  # what a missing moment shows


@lru_cache(maxsize=8)
def _locale(language: str) -> Locale:
    return Locale.parse(language or "en")


@lru_cache(maxsize=256)
def _zone(zone: str | None) -> ZoneInfo:
    return ZoneInfo(zone or "UTC")


def local(moment: datetime, zone: str | None) -> datetime:
    """A stored moment (naive means UTC) as the wall-clock time in `zone` (UTC when None)."""
    return aware(moment).astimezone(_zone(zone))


def _parsed(moment: datetime | date | str) -> datetime | date:
    """An ISO 8601 string (as audit and problem details keep moments) as the datetime it names."""
    return datetime.fromisoformat(moment) if isinstance(moment, str) else moment


@lru_cache(maxsize=64)
def _pattern(language: str, style: str) -> DateTimePattern:
    """The style's CLDR pattern in the language, parsed once ("EEE, MMM d, y, h:mm a" for "short" in English)."""
    locale = _locale(language)
    skeletons, time_pattern = locale.datetime_skeletons, locale.time_formats["short"].pattern
    weekday_date = skeletons[match_skeleton("yMMMEd", skeletons)].pattern
    patterns = {
        "moment": f"{locale.date_formats['full'].pattern} {time_pattern}",
        "short": locale.datetime_formats["short"].replace("{1}", weekday_date).replace("{0}", time_pattern),
        "day": locale.date_formats["medium"].pattern,
        "time": time_pattern,
        "month": skeletons[match_skeleton("yMMMM", skeletons)].pattern,
    }
    if style not in patterns:
        raise ValueError(f"unknown style {style!r}; one of {', '.join(STYLES)}")
    return parse_pattern(patterns[style])


def text(moment: datetime | date | str | None, zone: str | None, language: str, style: str = "short") -> str:
    """The moment written for a reader of `language` in `zone`; a dash when there is none.

    A `date` (a day with no time, such as a month's first day) is written as it is, without a zone.
    """
    if moment is None:
        return NOTHING
    moment = _parsed(moment)
    locale = _locale(language)
    if not isinstance(moment, datetime):
        return _pattern(str(locale), "month" if style == "month" else "day").apply(moment, locale)
    written = _pattern(str(locale), style).apply(local(moment, zone), locale)
    if style == "moment":
        return f"{written}, {zone_name(zone or 'UTC', str(locale))}"
    return f"{written} UTC" if zone is None and style in ("short", "time") else written


def wall_clock_text(at: time, language: str) -> str:
    """A time of day with no date ("2:30 AM"), as the "time" style writes it: what a form's time field held."""
    return format_time(at, "short", locale=_locale(language))


def iso_utc(moment: datetime | date | str) -> str:
    """The machine-readable form: "2026-03-04T01:00:00Z" (a date stays "2026-03-04")."""
    moment = _parsed(moment)
    if not isinstance(moment, datetime):
        return moment.isoformat()
    return aware(moment).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def html(moment: datetime | date | str | None, zone: str | None, language: str, style: str = "short") -> Markup:
    """`text` inside `<time datetime="…">`, for pages."""
    if moment is None:
        return Markup(NOTHING)
    return Markup('<time datetime="{}">{}</time>').format(iso_utc(moment), text(moment, zone, language, style))


def writer(zone: str | None, language: str, style: str = "short", as_html: bool = True) -> Callable:
    """`html` (or `text`) bound to one page's zone, language and style, each moment written once: a history
    page shows the same meeting's start beside its invitation, answer and attendance."""
    write = html if as_html else text
    return lru_cache(maxsize=None)(lambda moment: write(moment, zone, language, style))


def filters(language: Callable[[], str], as_html: bool) -> dict[str, Callable]:
    """One Jinja filter per style, `{{ meeting.starts_at|moment(community.time_zone) }}`; `language` tells
    the reader's language at render time. Pages get `<time>` elements, emails plain text (their HTML part
    is autoescaped like any text)."""
    write = html if as_html else text

    def make(style: str) -> Callable:
        return lambda moment, zone=None: write(moment, zone, language(), style)
    return {style: make(style) for style in STYLES}
