"""Due instants across time zones and DST, and the late-join and resume policies (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mail.schedule import first_due, local_instant, natural_due, naturals, next_slot, parse_send_time, plan, zone
from server.floor.errors import Invalid

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "UTC",
    "America/Sao_Paulo",
    "Europe/London",
    "America/St_Johns",
]
zones = st.sampled_from(ZONES).map(ZoneInfo)
days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
times = st.times().map(lambda t: time(t.hour, t.minute))


@settings(max_examples=400)
@given(start=days, offset=st.integers(0, 400), send=times, tz=zones)
def test_a_unit_is_due_on_its_local_day_at_the_send_time_or_just_after_a_gap(
    start: date, offset: int, send: time, tz: ZoneInfo
) -> None:
    due = natural_due(start, offset, send, tz)
    local = due.astimezone(tz)
    assert local.date() == start + timedelta(days=offset)
    wall = datetime.combine(local.date(), send)
    # Exactly the send time, unless that time does not exist that day (spring forward): then within the gap.
    assert timedelta(0) <= local.replace(tzinfo=None) - wall <= timedelta(hours=1)


@settings(max_examples=300)
@given(start=days, send=times, tz=zones)
def test_consecutive_days_are_a_civil_day_apart(start: date, send: time, tz: ZoneInfo) -> None:
    first, second = (natural_due(start, n, send, tz) for n in (0, 1))
    assert timedelta(hours=22) <= second - first <= timedelta(hours=26)


def test_dst_days_in_new_york() -> None:
    nine = time(9, 0)
    tz = ZoneInfo("America/New_York")
    assert natural_due(date(2026, 3, 7), 1, nine, tz) == datetime(2026, 3, 8, 13, tzinfo=UTC)  # EDT starts
    assert natural_due(date(2026, 3, 7), 0, nine, tz) == datetime(2026, 3, 7, 14, tzinfo=UTC)
    assert local_instant(date(2026, 3, 8), time(2, 30), tz) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # gap: 03:30
    assert local_instant(date(2026, 11, 1), time(1, 30), tz) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # first 01:30


WEEKLY = [0, 7, 14, 21, 28, 35, 42]


@settings(max_examples=300)
@given(
    tz=zones,
    joined_after=st.integers(-3 * 24, 50 * 24),
    policy=st.sampled_from(["catch_up", "all_at_once", "skip"]),
)
def test_late_join_plans_keep_order_and_never_flood(tz: ZoneInfo, joined_after: int, policy: str) -> None:
    nine = time(9, 0)
    natural = naturals(date(2026, 3, 2), WEEKLY, nine, tz)
    joined = natural[0] + timedelta(hours=joined_after)
    dues = plan(natural, joined, policy, nine, tz)
    sent = [(i, d) for i, d in enumerate(dues) if d is not None]
    assert [d for _, d in sent] == sorted(d for _, d in sent)
    for index, due in sent:
        assert due >= joined and due >= natural[index]
    missed = [i for i, n in enumerate(natural) if n <= joined]
    if policy == "skip":
        assert all(dues[i] is None for i in missed) and all(
            dues[i] == natural[i] for i in range(len(dues)) if i not in missed
        )
    else:
        assert all(d is not None for d in dues)
    if policy == "all_at_once":
        assert all(dues[i] == joined for i in missed)
    if policy == "catch_up":
        local_days = [d.astimezone(tz).date() for _, d in sent]
        assert len(local_days) == len(set(local_days)), "catch-up sends at most one unit a local day"


def test_catch_up_sends_missed_units_one_a_day_then_rejoins_the_schedule() -> None:
    tz, nine = ZoneInfo("Europe/Berlin"), time(9, 0)
    natural = naturals(date(2026, 3, 2), WEEKLY, nine, tz)
    joined = datetime(2026, 3, 17, 20, tzinfo=UTC)  # after units 0..2 (days 0, 7, 14)
    dues = plan(natural, joined, "catch_up", nine, tz)
    assert dues[:3] == [joined, datetime(2026, 3, 18, 8, tzinfo=UTC), datetime(2026, 3, 19, 8, tzinfo=UTC)]
    assert dues[3:] == natural[3:]


def test_resume_skip_moves_past_what_was_missed_while_paused() -> None:
    tz, nine = ZoneInfo("UTC"), time(9, 0)
    natural = naturals(date(2026, 3, 2), WEEKLY, nine, tz)
    resumed = natural[4] + timedelta(hours=1)
    assert first_due(natural, 2, resumed, "skip") == (5, natural[5])
    assert first_due(natural, 2, resumed, "send_missed") == (2, resumed)
    assert first_due(natural, 7, resumed, "skip") == (7, None)
    assert next_slot(resumed, nine, tz) == datetime(2026, 3, 31, 9, tzinfo=UTC)


def test_bad_zone_and_send_time_are_named() -> None:
    with pytest.raises(Invalid, match="unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")
    with pytest.raises(Invalid, match="send_time must be HH:MM, not '9am'"):
        parse_send_time("9am")
