"""Time zones of runs and learners: IANA names checked against the tz database, local instants."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.floor.errors import Invalid


def check_timezone(value: str, field: str = "timezone") -> str:
    """`value` if it is an IANA time zone name (Europe/Paris, UTC), else Invalid naming `field`."""
    if not isinstance(value, str) or not value or value.startswith(("/", ".")) or ".." in value:
        raise Invalid(f"{field} {value!r} is not an IANA time zone such as Europe/Paris")
    if not _known_zone(value):
        raise Invalid(f"{field} {value!r} is not an IANA time zone such as Europe/Paris")
    return value


@lru_cache(maxsize=1024)
def _known_zone(value: str) -> bool:
    """True for a zone the tz database knows (cached: bulk imports repeat a few zones many times)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_midnight(day: date, zone: str) -> datetime:
    """The start of `day` in time zone `zone`."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))


def offset_label(minutes: int) -> str:
    """A UTC offset as people write it: UTC, UTC+1, UTC−5, UTC+5:30 (a true minus sign)."""
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def offset_span(offsets: Iterable[int]) -> str:
    """The range of UTC offsets a group spans: "UTC−5 to UTC−3", or one offset; "" for none."""
    values = sorted(set(offsets))
    if not values:
        return ""
    low, high = offset_label(values[0]), offset_label(values[-1])
    return low if low == high else f"{low} to {high}"
