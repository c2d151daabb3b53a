"""Charts drawn on the server as inline SVG: readable without JavaScript or colour, and printable.

Every piece of text is escaped (markupsafe) before it goes into the markup.
Only presentation attributes are used (fill=, font-size=...), never style=,
so the page's CSP (style-src 'self') has nothing to block; no scripts, no
external resources. Each chart has a <title>, a <desc> and an aria-label,
and writes its numbers as text on the bars and points themselves; a bar
chart is followed by the same numbers as a table that only screen readers
show (the line charts' pages already print theirs as a visible table).
"""
from collections.abc import Callable, Sequence
from itertools import count

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

INK = "#1d2733"
BAR = "#1f5f8b"
GRID = "#b8c2cc"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif"
_ids = count(1)


def _number(value) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _open(width: int, height: int, title: str, desc: str, css: str) -> tuple[str, list[str]]:
    chart_id = f"chart-{next(_ids)}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" role="img" '
             f'aria-label="{escape(title)}" aria-describedby="{chart_id}-desc" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'font-family="{FONT}" font-size="13" fill="{INK}">',
             f'<title id="{chart_id}-title">{escape(title)}</title>',
             f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']
    return chart_id, parts


def data_table(rows: Sequence[tuple[str, str]], caption: str, headers: tuple[str, str]) -> str:
    """The chart's numbers as a two-column table for screen readers (class visually-hidden)."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(f'<tr><th scope="row">{escape(label)}</th><td>{escape(value)}</td></tr>' for label, value in rows)
    return (f'<table class="chart-data visually-hidden"><caption>{escape(caption)}</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')


def bar_chart(bars: Sequence[tuple[object, int]], *, title: str, value_label: Callable = _number,
              count_label: Callable = _number, bar_title: Callable | None = None,
              headers: tuple[str, str] = (_l("Answer"), _l("How many"))) -> Markup:
    """Vertical bars, one per (value, count), the count written above each bar and the value below it;
    then the same numbers as a table (data_table)."""
    slot = 44 if len(bars) <= 6 else 36
    left, right, top, plot, bottom = 16, 16, 26, 140, 30
    width, height = left + slot * max(len(bars), 1) + right, top + plot + bottom
    highest = max((c for _v, c in bars), default=0) or 1
    desc = "; ".join(f"{value_label(v)}: {count_label(c)}" for v, c in bars)
    _chart_id, parts = _open(width, height, title, desc, "bar-chart")
    baseline = top + plot
    parts.append(f'<line x1="{left}" y1="{baseline}" x2="{width - right}" y2="{baseline}" stroke="{INK}" '
                 f'stroke-width="1"/>')
    for index, (value, number) in enumerate(bars):
        x = left + index * slot
        bar_height = round(plot * number / highest, 1)
        label = bar_title(value, number) if bar_title else f"{value_label(value)}: {count_label(number)}"
        parts.append(f'<g class="bar"><title>{escape(label)}</title>')
        if number:
            parts.append(f'<rect x="{x + 6}" y="{baseline - bar_height}" width="{slot - 12}" height="{bar_height}" '
                         f'fill="{BAR}" stroke="{INK}" stroke-width="1"/>')
        parts.append(f'<text class="count" x="{x + slot / 2}" y="{baseline - bar_height - 6}" text-anchor="middle" '
                     f'font-weight="bold">{escape(count_label(number))}</text>')
        parts.append(f'<text class="value" x="{x + slot / 2}" y="{baseline + 18}" text-anchor="middle">'
                     f'{escape(value_label(value))}</text></g>')
    parts.append("</svg>")
    parts.append(data_table([(value_label(v), count_label(c)) for v, c in bars], title, headers))
    return Markup("".join(parts))


def line_chart(points: Sequence[tuple[str, float | None]], *, low: float, high: float, title: str,
               value_label: Callable = _number, point_title: Callable | None = None) -> Markup:
    """A line through (label, value) points on a fixed scale low..high, each value written by its point;
    a None value leaves a gap (no answers for that point)."""
    step = 72
    left, right, top, plot, bottom = 72, 40, 28, 160, 80
    width = left + step * max(len(points) - 1, 1) + right
    height = top + plot + bottom
    span = (high - low) or 1

    def y_of(value: float) -> float:
        return round(top + plot - (value - low) * plot / span, 1)

    def x_of(index: int) -> float:
        return left + (step * index if len(points) > 1 else step / 2)

    desc = "; ".join(f"{label}: {value_label(value) if value is not None else '–'}" for label, value in points)
    _chart_id, parts = _open(width, height, title, desc, "line-chart")
    for tick in sorted({low, (low + high) / 2, high}):
        y = y_of(tick)
        parts.append(f'<line x1="{left}" y1="{y}" x2="{width - right + 10}" y2="{y}" stroke="{GRID}" '
                     f'stroke-width="1" stroke-dasharray="4 3"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{y + 4}" text-anchor="end" fill="#4a5563">'
                     f'{escape(value_label(tick) if isinstance(tick, float) and tick % 1 else _number(int(tick)))}'
                     f'</text>')
    segment: list[str] = []
    segments = []
    for index, (_label, value) in enumerate(points):
        if value is None:
            segments.append(segment)
            segment = []
        else:
            segment.append(f"{x_of(index)},{y_of(value)}")
    segments.append(segment)
    for segment in segments:
        if len(segment) > 1:
            parts.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{BAR}" stroke-width="2.5"/>')
    for index, (label, value) in enumerate(points):
        x = x_of(index)
        tip = point_title(label, value) if point_title else f"{label}: {value_label(value) if value is not None else '–'}"
        parts.append(f'<g class="point"><title>{escape(tip)}</title>')
        if value is not None:
            y = y_of(value)
            parts.append(f'<circle cx="{x}" cy="{y}" r="4.5" fill="{BAR}" stroke="{INK}" stroke-width="1"/>')
            parts.append(f'<text class="point-value" x="{x}" y="{y - 9}" text-anchor="middle" font-weight="bold">'
                         f'{escape(value_label(value))}</text>')
        else:
            parts.append(f'<text class="point-value missing" x="{x}" y="{top + plot - 6}" text-anchor="middle" '
                         f'fill="#4a5563">–</text>')
        label_y = top + plot + 16
        parts.append(f'<text class="label" x="{x}" y="{label_y}" text-anchor="end" font-size="12" '
                     f'transform="rotate(-30 {x} {label_y})">{escape(label)}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
