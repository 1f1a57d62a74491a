"""Ids that sort by time, as Mastodon's: milliseconds since the Unix epoch, shifted left 16 bits,
with a 16-bit sequence below (Mastodon's lib/mastodon/snowflake.rb `id_at`).

A status, a profile, a notification or a media file made at instant T gets an id between
`floor_id(T)` and `floor_id(T + 1 ms)`, so "newer than" is "greater than", paging by id cursors
needs no timestamp column, and a remote post fetched today but published last year sorts by when it
was published (pass `at=`). The low bits come from a per-process counter that starts at a random
value, so two processes making ids in the same millisecond collide only if their counters meet
(1 in 65,536 per pair of ids in the same millisecond; the primary key refuses the second, which
then retries with a fresh id: `community.models` columns use `new_id` as their default).
"""

from __future__ import annotations

import itertools
import secrets
import threading
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Integer

from server.floor.clock import now

_lock = threading.Lock()
_sequence = itertools.count(secrets.randbelow(1 << 16))


def floor_id(at: datetime) -> int:
    """The smallest id of instant `at` (an aware datetime): for 'since this time' cursors."""
    return int(at.timestamp() * 1000) << 16


def new_id(at: datetime | None = None) -> int:
    """A fresh id for instant `at` (default: now)."""
    with _lock:
        low = next(_sequence) & 0xFFFF
    return floor_id(at or now()) | low


def id_time(value: int) -> datetime:
    """The instant an id was made for (UTC)."""

    return datetime.fromtimestamp((value >> 16) / 1000, tz=UTC)


# The column type of such ids: BIGINT on PostgreSQL; INTEGER on SQLite (64-bit there, and the
# rowid alias a primary key needs).
BigId = BigInteger().with_variant(Integer(), "sqlite")
