"""The shared rate limiter: at most `limit` hits of a key in any window, counted in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from server.floor.clock import frozen
from server.floor.ratelimit import Limit, count, forgive, hit, hold, reserve

T0 = datetime(2027, 1, 4, 9, tzinfo=UTC)


def test_the_fourth_hit_in_a_day_waits_until_the_first_leaves_the_window(session: Session) -> None:
    for minutes in (0, 10, 20):
        with frozen(T0 + timedelta(minutes=minutes)):
            assert hit(session, "confirm", "ann@example.org", 3, 86400) is None
    with frozen(T0 + timedelta(hours=5)):
        wait = hit(session, "confirm", "ann@example.org", 3, 86400)
        # Another key and another scope count apart.
        assert hit(session, "confirm", "bob@example.org", 3, 86400) is None
        assert hit(session, "other", "ann@example.org", 3, 86400) is None
    assert wait == (timedelta(days=1) - timedelta(hours=5)).total_seconds()
    with frozen(T0 + timedelta(days=1, seconds=1)):
        assert hit(session, "confirm", "ann@example.org", 3, 86400) is None
        assert hit(session, "confirm", "ann@example.org", 3, 86400) is not None


def test_a_held_hit_counts_for_the_time_given_then_leaves_the_window(session: Session) -> None:
    limit = Limit("login-email", 2, timedelta(minutes=15))
    checks = [(limit, "ann@example.org")]
    with frozen(T0):
        first = reserve(session, checks)
        second = reserve(session, checks)
        assert isinstance(first, list) and isinstance(second, list)
        hold(session, checks, second, timedelta(minutes=1))
        assert reserve(session, checks) == timedelta(minutes=1)  # full: the held hit is the older
    with frozen(T0 + timedelta(minutes=1, seconds=1)):
        assert count(session, limit, "ann@example.org") == 1
        assert isinstance(reserve(session, checks), list)


def test_forgive_drops_only_the_given_hits_of_that_key_and_scope(session: Session) -> None:
    limit = Limit("login-email", 5, timedelta(minutes=15))
    with frozen(T0):
        ann = [reserve(session, [(limit, "ann@example.org")]) for _ in range(2)]
        bob = reserve(session, [(limit, "bob@example.org")])
        other = reserve(session, [(Limit("reset-email", 5, limit.window), "ann@example.org")])
        ids = [hit_id for reserved in (*ann, bob, other) for hit_id in reserved]  # type: ignore[union-attr]
        assert forgive(session, limit, "ann@example.org", ids) == 2
        assert count(session, limit, "ann@example.org") == 0
        assert count(session, limit, "bob@example.org") == 1
        assert forgive(session, limit, "ann@example.org", []) == 0
