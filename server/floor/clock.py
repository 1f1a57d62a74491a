"""The injectable clock: every module asks `now()` instead of the system clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_source: list[Callable[[], datetime]] = [lambda: datetime.now(UTC)]


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    value = _source[-1]()
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@contextmanager
def frozen(instant: datetime) -> Iterator[None]:
    """Make `now()` return `instant` inside the block (tests, `mail send-due --now`)."""
    fixed = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    _source.append(lambda: fixed)
    try:
        yield
    finally:
        _source.pop()


def utc(value: datetime | None) -> datetime | None:
    """Attach UTC to a naive datetime read back from SQLite."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
