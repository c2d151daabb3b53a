"""A form's responses as CSV that Excel opens correctly and safely.

UTF-8 with a byte-order mark (so Excel reads accents), one row per response,
and every text cell that a spreadsheet would read as a formula (starting
with = + - @, a tab or a carriage return) prefixed with a single quote.
Otherwise member text is written verbatim: CSV is data, HTML escaping does
not apply; NUL characters are dropped.
"""
import csv
import io
import re
import unicodedata
from collections.abc import Iterator

from flask_babel import gettext as _

from service import form_review
from service.models import Community, FormRequest
from service.questions import questions

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str | int:
    """A cell value safe for spreadsheets: numbers as they are, text without NULs and never a formula."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).replace("\x00", "")
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def slug(title: str, fallback: str = "form") -> str:
    """An ASCII file-name part from a title: "Réunion #3: feedback" -> "reunion-3-feedback"."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-") or fallback


def filename(form_request: FormRequest) -> str:
    return f"{slug(form_request.title)}-responses.csv"


def header(form_request: FormRequest, community: Community) -> list[str]:
    return [_("Member"), _("Email"), _("Organization"), _("Status"),
            _("Submitted at (%(zone)s)", zone=community.time_zone)] + \
        [str(q.label) for q in questions(form_request.kind)]


def _line(cells: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([neutralise(cell) for cell in cells])
    return buffer.getvalue()


def rows(form_request: FormRequest, community: Community,
         filters: form_review.Filters = form_review.Filters()) -> Iterator[str]:
    """The export as text chunks: the BOM and header first, then one line per response."""
    keys = [q.key for q in questions(form_request.kind)]
    yield BOM + _line(header(form_request, community))
    for row in form_review.all_rows(form_request, filters):
        submitted = form_review.local_moment(row["submitted_at"], community.time_zone)
        yield _line([row["member"], row["email"], row["organization"], form_review.status_label(row["status"]),
                     submitted.strftime("%Y-%m-%d %H:%M") if submitted else ""] +
                    [row["answers"].get(key) for key in keys])


def export(form_request: FormRequest, community: Community,
           filters: form_review.Filters = form_review.Filters()) -> bytes:
    """The whole export as UTF-8 bytes (what the download streams, in one piece)."""
    return "".join(rows(form_request, community, filters)).encode("utf-8")


def table(header: list[str], lines) -> bytes:
    """Any table as the same safe CSV: the BOM, the header, then each line's cells neutralised."""
    return (BOM + _line(header) + "".join(_line(list(cells)) for cells in lines)).encode("utf-8")
