"""A community's health figures in words, as a reader of `locale` reads them: a count, a percentage or a mean,
and how one moved since the month before (the health page, the monthly summary email)."""
from functools import lru_cache

from babel.numbers import format_decimal, format_percent, get_decimal_symbol


def formatted(value, kind: str, locale: str) -> str:
    """A figure as people read it in `locale`: a count, a percentage or a mean; a dash for nothing to count.

    Written with the locale's symbols directly: Babel's general formatting
    took most of a 24-month page's rendering (a few hundred figures).
    """
    if value is None:
        return "–"
    decimal, percent = _symbols(locale)
    if kind == "percent":
        return percent.replace("7", str(round(value * 100)), 1)
    if kind == "mean":
        return f"{value:.1f}".replace(".", decimal)
    return format_decimal(value, locale=locale) if value >= 10_000 else str(value)


@lru_cache(maxsize=None)
def _symbols(locale: str) -> tuple[str, str]:
    """(decimal symbol, how 7 % is written) in the locale."""
    return get_decimal_symbol(locale), format_percent(0.07, locale=locale)


def change(now_value, before, kind: str, locale: str) -> str | None:
    """How a figure moved since the month before, signed ("+3", "−5 %" as points, "+0.4"); None if either month
    had nothing to count."""
    if now_value is None or before is None:
        return None
    difference = now_value - before
    if kind == "percent":
        difference = round(difference * 100)
        text = format_decimal(abs(difference), locale=locale)
    elif kind == "mean":
        difference = round(difference, 1)
        text = format_decimal(abs(difference), format="0.0", locale=locale)
    else:
        text = format_decimal(abs(difference), locale=locale)
    return ("+" if difference > 0 else "−" if difference < 0 else "±") + text
