"""When each unit reaches each learner: plain functions over dates, zones and policies.

A unit's natural due instant is the run's start date + the unit's `day`, at the course's send time
in the learner's IANA zone. A learner who joins late (or resumes after a pause) follows a policy:
`catch_up` sends the missed units one a day, `all_at_once` sends them together, `skip` drops them.
The scheduler keeps only a cursor per learner (next position, next due instant); `following_due`
moves it one unit on, and `plan` is the same rule applied to a whole course (tests, previews).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.floor.errors import Invalid

LATE_JOIN = ("catch_up", "all_at_once", "skip")
RESUME = ("send_missed", "skip")


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or Invalid naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {name!r}") from None


def parse_send_time(value: str) -> time:
    """`HH:MM` as a time of day, or Invalid naming the value."""
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise Invalid(f"send_time must be HH:MM, not {value!r}") from None


def local_instant(day: date, send_time: time, tz: ZoneInfo) -> datetime:
    """`send_time` on `day` in `tz`, as UTC.

    A time that does not exist (the spring-forward gap) moves forward by the gap; a time that occurs
    twice (fall back) is the first occurrence — zoneinfo's fold=0 rule, so no day is lost or doubled.
    """
    return datetime.combine(day, send_time, tzinfo=tz).astimezone(UTC)


def natural_due(start: date, day: int, send_time: time, tz: ZoneInfo) -> datetime:
    """The instant a unit is due for a learner who was there from the start."""
    return local_instant(start + timedelta(days=day), send_time, tz)


def next_slot(after: datetime, send_time: time, tz: ZoneInfo) -> datetime:
    """The send time on the local day after the local day of `after` (catching up: one unit a day)."""
    local_day = after.astimezone(tz).date()
    return local_instant(local_day + timedelta(days=1), send_time, tz)


def naturals(start: date, days: Sequence[int], send_time: time, tz: ZoneInfo) -> list[datetime]:
    """The natural due instants of units with these `days`, in position order."""
    return [natural_due(start, day, send_time, tz) for day in days]


def first_due(natural: Sequence[datetime], position: int, joined: datetime, policy: str) -> tuple[int, datetime | None]:
    """Where a cursor starts for a learner who joins (or resumes) at `joined` before unit `position`.

    `skip` moves past the units already due; otherwise a missed unit is due at once.
    """
    if policy == "skip":
        while position < len(natural) and natural[position] <= joined:
            position += 1
    if position >= len(natural):
        return position, None
    return position, max(natural[position], joined)


def following_due(
    natural: Sequence[datetime],
    position: int,
    due: datetime,
    policy: str,
    send_time: time,
    tz: ZoneInfo,
) -> datetime | None:
    """When unit `position + 1` is due, given that unit `position` was due at `due`.

    Units never go out of order. A learner behind the natural schedule (due later than the unit's
    natural instant) catches up one unit a day, unless the course sends missed units all at once.
    """
    following = position + 1
    if following >= len(natural):
        return None
    behind = due > natural[position]
    if behind and policy != "all_at_once":
        return max(natural[following], next_slot(due, send_time, tz))
    return max(natural[following], due)


def plan(
    natural: Sequence[datetime],
    joined: datetime,
    policy: str,
    send_time: time,
    tz: ZoneInfo,
    position: int = 0,
) -> list[datetime | None]:
    """Every unit's due instant for a learner joining at `joined` (None: skipped or already sent)."""
    dues: list[datetime | None] = [None] * len(natural)
    position, due = first_due(natural, position, joined, policy)
    while due is not None:
        dues[position] = due
        due = following_due(natural, position, due, policy, send_time, tz)
        position += 1
    return dues
