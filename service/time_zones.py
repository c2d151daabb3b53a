"""Time zones as people read them: the current zones a community can choose, grouped by region, and their
names ("Mountain Time (Denver)"). Writing a moment is service.moments' job."""
from functools import lru_cache
from importlib import resources

from babel.dates import get_timezone_location, get_timezone_name
from flask_babel import lazy_gettext as _l

REGIONS = {"Africa": _l("Africa"), "America": _l("Americas"), "Antarctica": _l("Antarctica"),
           "Asia": _l("Asia"), "Atlantic": _l("Atlantic"), "Australia": _l("Australia"), "Europe": _l("Europe"),
           "Indian": _l("Indian Ocean"), "Pacific": _l("Pacific")}
UTC_KEYS = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"})


@lru_cache(maxsize=1)
def current_zones() -> tuple[str, ...]:
    """The zones tzdata's zone1970.tab lists: one per region whose clocks have agreed since 1970, so no
    alias such as US/Eastern or Asia/Calcutta."""
    table = resources.files("tzdata").joinpath("zoneinfo", "zone1970.tab").read_text(encoding="utf-8")
    zones = {line.split("\t")[2] for line in table.splitlines() if line.strip() and not line.startswith("#")}
    return tuple(sorted(zone for zone in zones if zone.split("/")[0] in REGIONS))


@lru_cache(maxsize=2048)
def zone_name(zone: str, language: str = "en") -> str:
    """"Mountain Time (Denver)" for America/Denver in English, "hora de las Montañas Rocosas (Denver)" in
    Spanish; "UTC" for UTC (Babel would say "Unknown Region (UTC) Time"); the zone's own key when Babel
    does not know it."""
    if zone in UTC_KEYS:
        return "UTC"
    try:
        name = get_timezone_name(zone, "long", locale=language, zone_variant="generic")
        city = get_timezone_location(zone, locale=language, return_city=True)
    except LookupError:
        return zone
    return name if city in name else f"{name} ({city})"


@lru_cache(maxsize=8)
def _grouped(language: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for zone in current_zones():
        groups.setdefault(zone.split("/")[0], []).append((zone, zone_name(zone, language)))
    return tuple((region, tuple(sorted(zones, key=lambda pair: (pair[1].casefold(), pair[0]))))
                 for region, zones in groups.items())


def choices(language: str, keep: str | None = None) -> dict[str, list[tuple[str, str]]]:
    """Select options grouped by region ({region label: [(zone, friendly name)]}); `keep` (a community's
    current zone, even an older alias) is offered too, so editing never loses it."""
    grouped = {str(REGIONS[region]): list(zones) for region, zones in _grouped(language)}
    if keep and keep not in current_zones():
        grouped.setdefault(str(_l("Other")), []).append((keep, zone_name(keep, language)))
    return grouped

