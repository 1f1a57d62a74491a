"""Time zones of runs and learners: IANA names checked against the tz database, local instants."""

from __future__ import annotations

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
