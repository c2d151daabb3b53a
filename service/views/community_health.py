"""Dashboard: a community's health month by month (its page, and the section on the community page), drawn as
SVG charts with the same numbers in a table beside them, and the dashboard's overview of one's communities."""

from babel.dates import format_skeleton
from flask import Blueprint, render_template
from markupsafe import Markup
from flask_babel import get_locale, gettext as _
from flask_login import login_required

from service import clock, community_health, health_overview, health_words, svg_charts
from service.figures_stamp import Stamps
from service.kept import Kept
from service.models import Community
from service.views.helpers import community_or_404

bp = Blueprint("community_health", __name__, url_prefix="/communities/<int:community_id>/health")

# Charted figures: (attribute, low end of the scale, high end or None for the largest value).
CHARTS = (("members", 0, None), ("active", 0, None), ("rsvp_rate", 0, 100), ("attendance_rate", 0, 100), ("usefulness", 1, 5),
          ("recommend", 0, 10), ("practices", 0, None), ("replies", 0, None), ("bounced", 0, None),
          ("unsubscribed", 0, None))
ON_COMMUNITY_PAGE = ("active", "rsvp_rate", "attendance_rate")
_DRAWN = Kept(256)  # drawings kept per process, each for its figures and language


@bp.route("/")
@login_required
def show(community_id: int):
    community = community_or_404(community_id)
    return render_template("community_health/show.html", community=community,
                           **health_view(community, community_health.MONTHS_ON_HEALTH_PAGE, [key for key, *_r in CHARTS]))


def section(community: Community) -> dict:
    """What the community page's health section shows: the last year, three charts and the table."""
    return health_view(community, community_health.MONTHS_ON_COMMUNITY_PAGE, ON_COMMUNITY_PAGE)


def health_view(community: Community, count: int, charted) -> dict:
    """The charts and the table of the last `count` months; drawn again only when a figure changed, since
    drawing them costs more than the rest of the page (kept figures change only when the community's data does).

    While the community's kept months hold at its figures stamp, the stamp stands for the figures in the key
    (as for the dashboard's overview) and the months are read only to draw them the first time."""
    locale = str(get_locale())
    stamps = Stamps([community.id], clock.now())
    if stamps.months_hold(community.id):
        kept = stamps.kept[community.id]
        key = ("months at stamp", community.id, community.time_zone, locale, tuple(charted), count,
               kept.months_version, kept.months_until)
        return drawn(key, lambda: _draw(community_health.months(community, count), locale, charted))
    months = community_health.months(community, count)
    key = ("months", community.id, locale, tuple(charted), tuple(tuple(vars(month).values()) for month in months))
    return drawn(key, lambda: _draw(months, locale, charted))


def overview(communities: list[Community], waiting: dict[int, dict[str, int]] | None = None,
             stamps=None) -> Markup:
    """The dashboard's table of these communities at a glance, rendered again only when something in it changed
    (rendering 50 rows cost more than counting what is in them).

    When every community's kept months hold at its stamp (service/figures_stamp.py), their figures are those
    counted at that stamp and until that moment, so the stamp stands for them in the key and the kept months
    are not even read; otherwise the key holds the figures themselves."""
    if stamps is not None and waiting is not None and all(stamps.months_hold(c.id) for c in communities):
        key = ("overview at stamps", str(get_locale()), tuple(
            (c.id, c.name, c.stage, c.time_zone, c.archived_at, stamps.kept[c.id].months_version,
             stamps.kept[c.id].months_until, tuple(sorted((waiting.get(c.id) or {}).items()))) for c in communities))
        return drawn(key, lambda: _overview_drawn(communities, waiting, stamps))
    return _overview_drawn(communities, waiting, stamps)


def _overview_drawn(communities: list[Community], waiting, stamps) -> Markup:
    glances = health_overview.overview(communities, waiting=waiting, stamps=stamps)
    key = ("overview", str(get_locale()), tuple(  # every value _overview.html reads
        (g.community.id, g.community.name, g.community.stage, g.community.archived_at, g.members, g.active,
         g.rsvp_rate, g.failed_emails, g.replies_waiting, g.bouncing) for g in glances))
    return drawn(key, lambda: Markup(render_template("community_health/_overview.html", overview=glances)))


def drawn(key: tuple, draw):
    """What `draw()` made for this key before (in this process), or what it makes now; the key holds every value
    the drawing shows (so a changed value is a new drawing, never a stale one)."""
    drawn = _DRAWN.get(key)
    if drawn is None:
        drawn = draw()
        _DRAWN.keep(key, drawn)
    return drawn


def _draw(months: list[community_health.MonthHealth], locale: str, charted) -> dict:
    labels = {key: label for key, label, _kind in community_health.FIGURES}
    kinds = {key: kind for key, _label, kind in community_health.FIGURES}
    month_names = [format_skeleton("yMMM", m.month, locale=locale) for m in months]
    charts = {}
    for key, low, high in CHARTS:
        if key not in charted:
            continue
        scale = 100 if kinds[key] == "percent" else 1
        values = [getattr(m, key) for m in months]
        points = [(name, value * scale if value is not None else None) for name, value in zip(month_names, values)]
        top = high if high is not None else max([value or 0 for _name, value in points] + [1])
        charts[key] = svg_charts.line_chart(
            points, low=low, high=top, title=_("%(figure)s, month by month", figure=labels[key]),
            value_label=lambda value, kind=kinds[key], scale=scale: health_words.formatted(
                value / scale if scale != 1 else value, kind, locale))
    rows = [(name, [health_words.formatted(getattr(m, key), kind, locale)
                    for key, _label, kind in community_health.FIGURES]) for name, m in zip(month_names, months)]
    # The table rendered here too, once per drawing: its few hundred cells were half the health page's template time.
    table = Markup(render_template("community_health/_table.html", health_figures=community_health.FIGURES,
                                   health_rows=rows, caption=_("Health figures per month, newest first")))
    return {"health_charts": charts, "health_labels": labels, "health_table": table}


@bp.app_template_global("health_figure")
def health_figure(value, kind: str) -> str:
    """A figure as the reader's locale writes it (the dashboard's overview)."""
    return health_words.formatted(value, kind, str(get_locale()))
