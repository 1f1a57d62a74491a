"""The shared rate limiter: at most `limit` hits of a key in any window, counted in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from server.floor.clock import frozen
from server.floor.ratelimit import hit

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
