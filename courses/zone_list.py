"""The time zones people choose from: current IANA names by region, with the older names browsers report.

The list is the tz database's own list of zones for choosing (`zone1970.tab` and `zone.tab`: one or
more current `Region/City` names per country, such as Asia/Kolkata and Europe/Oslo), plus UTC. Legacy
names (US/Pacific, Asia/Calcutta), `Etc/` zones (Etc/GMT+5, whose sign confuses everyone), and
names without a region (EST5EDT, GB) are left out; an older name a browser reports maps to the
current zone it links to (`aliases`, from the `L` lines of `tzdata.zi`). Any zone the tz database
knows is still accepted where a zone is typed (`courses.zones.check_timezone`).
"""

from __future__ import annotations

import importlib.resources
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import TZPATH, available_timezones

# Continents and oceans of `Region/City` names; US/, Canada/, Etc/, SystemV/ ... are legacy groupings.
REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")
UTC = "UTC"
# What the tz database calls UTC and GMT (every link to them is shown as UTC: the same instant everywhere).
UTC_NAMES = ("Etc/UTC", "Etc/GMT")


@dataclass(frozen=True)
class ZoneChoice:
    """One zone of the picker: its IANA name, what people read, older names that mean it."""

    name: str
    label: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Region:
    """A continent or ocean and its zones, in the order shown."""

    name: str
    zones: tuple[ZoneChoice, ...]


def _source(name: str) -> str:
    """A file of the tz database: the `tzdata` package's (a dependency), else the system's; '' if none."""
    try:
        packaged = importlib.resources.files("tzdata").joinpath("zoneinfo", name)
        if packaged.is_file():
            return packaged.read_text(encoding="utf-8")
    except ModuleNotFoundError:
        pass
    for folder in TZPATH:
        path = Path(folder) / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return ""


def _rows(text: str) -> Iterable[list[str]]:
    for line in text.splitlines():
        if line and not line.startswith("#"):
            yield line.split("\t")


def is_regional(name: str) -> bool:
    """True for a current-style `Region/City` name (not US/Pacific, Etc/GMT+5, SystemV/..., EST5EDT)."""
    region, _, place = name.partition("/")
    return region in REGIONS and bool(place)


def place_label(name: str, country: str = "") -> str:
    """What a reader sees for a zone: "Argentina / Buenos Aires (Argentina)", "Kolkata (India)"."""
    _, _, place = name.partition("/")
    label = " / ".join(part.replace("_", " ") for part in place.split("/"))
    return f"{label} ({country})" if country else label


def build_regions(
    known: set[str], tables: Iterable[tuple[str, str]], links: Iterable[tuple[str, str]], countries: dict[str, str]
) -> tuple[Region, ...]:
    """The picker's regions from the tz database's parts (pure, so tests can feed it small data).

    `known`: every zone name that can be loaded; `tables`: (zone, country codes) rows of zone.tab and
    zone1970.tab; `links`: (target, link) pairs of tzdata.zi; `countries`: code -> name (iso3166.tab).
    """
    codes: dict[str, str] = {}
    for zone, zone_codes in tables:
        if zone in known and is_regional(zone):
            codes.setdefault(zone, zone_codes.split(",")[0])
    if not codes:  # no tables installed: every regional name the system knows
        codes = {zone: "" for zone in known if is_regional(zone)}
    chosen = set(codes)
    target_of = {link: target for target, link in links}

    def current(name: str) -> str | None:
        seen: set[str] = set()
        while name not in chosen and name in target_of and name not in seen:
            seen.add(name)
            name = target_of[name]
        if name in UTC_NAMES:
            return UTC
        return name if name in chosen else None

    aliases: dict[str, list[str]] = defaultdict(list)
    for name in sorted(set(target_of) | set(UTC_NAMES) | {UTC}):
        if name in chosen or name == UTC:
            continue
        listed = current(name)
        if listed is not None:
            aliases[listed].append(name)
    by_region: dict[str, list[ZoneChoice]] = defaultdict(list)
    for zone, code in codes.items():
        label = place_label(zone, countries.get(code, ""))
        by_region[zone.partition("/")[0]].append(ZoneChoice(zone, label, tuple(aliases.get(zone, ()))))
    utc = Region(UTC, (ZoneChoice(UTC, "UTC (Coordinated Universal Time)", tuple(aliases.get(UTC, ()))),))
    regions = [Region(name, tuple(sorted(by_region[name], key=lambda z: z.label))) for name in REGIONS]
    return (utc, *(region for region in regions if region.zones))


@lru_cache(maxsize=1)
def zone_regions() -> tuple[Region, ...]:
    """The picker's zones grouped by region (UTC first), read once from the installed tz database."""
    tables = [(row[2], row[0]) for name in ("zone.tab", "zone1970.tab") for row in _rows(_source(name)) if len(row) > 2]
    links = []
    for line in _source("tzdata.zi").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "L":
            links.append((parts[1], parts[2]))
    countries = {row[0]: row[1] for row in _rows(_source("iso3166.tab")) if len(row) > 1}
    return build_regions(set(available_timezones()), tables, links, countries)


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """Every name the picker offers."""
    return frozenset(zone.name for region in zone_regions() for zone in region.zones)


@lru_cache(maxsize=1)
def _current_names() -> dict[str, str]:
    return {alias: zone.name for region in zone_regions() for zone in region.zones for alias in zone.aliases}


def listed_zone(name: str) -> str | None:
    """The picker's name for `name` (itself, or the current zone an older name links to); None if unlisted."""
    if name in zone_names():
        return name
    return _current_names().get(name)
