"""Rate limits kept in the database, shared by every process: at most `attempts` hits of a key per window.

A sliding log (one row per counted hit), so a limit means exactly what it says: "3 a day" is never a
fourth within 24 hours. Checking and counting are one step: `reserve()` takes a lock per key first
(a transaction-scoped advisory lock on PostgreSQL; on SQLite its first statement is a write, which
takes the database's write lock), so of many parallel requests no more than the limit get through.
Each call forgets its keys' hits that left the window, and `purge()` (an hourly job) the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Index, String, delete, func, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.floor.clock import now
from server.floor.db import Base, UTCDateTime, is_postgres, session_scope
from server.floor.jobs import job

KEY_CHARS = 320
KEEP = timedelta(days=2)  # longer than any window in use; `purge` drops what is older


class RateHit(Base):
    """One counted hit of `key` in `scope` (a failed login, a confirmation mail sent to an address)."""

    __tablename__ = "rate_hits"
    __table_args__ = (Index("ix_rate_hits_scope_key_at", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(KEY_CHARS))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Limit:
    """At most `attempts` within `window` for one key of `scope`."""

    scope: str
    attempts: int
    window: timedelta


def _lock_id(scope: str, key: str) -> int:
    """A signed 64-bit number for PostgreSQL's advisory locks, one per scope and key."""
    return int.from_bytes(hashlib.sha256(f"{scope}\0{key}".encode()).digest()[:8], "big", signed=True)


def _recent(limit: Limit, key: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions of `key`'s hits in `limit`'s window now."""
    return (RateHit.scope == limit.scope, RateHit.key == key[:KEY_CHARS], RateHit.at > now() - limit.window)


def count(session: Session, limit: Limit, key: str) -> int:
    """How many hits of `key` fall in `limit`'s window now."""
    return session.scalar(select(func.count(RateHit.id)).where(*_recent(limit, key))) or 0


def wait_time(session: Session, limit: Limit, key: str) -> timedelta | None:
    """How long `key` must wait before its next hit, or None when it may go now (counts nothing)."""
    if count(session, limit, key) < limit.attempts:
        return None
    recent = _recent(limit, key)
    # Allowed again when the `attempts`-th most recent hit leaves the window.
    anchor = session.scalars(
        select(RateHit.at).where(*recent).order_by(RateHit.at.desc()).offset(limit.attempts - 1).limit(1)
    ).one()
    return max(anchor + limit.window - now(), timedelta(seconds=1))


def reserve(session: Session, checks: Sequence[tuple[Limit, str]]) -> list[int] | timedelta:
    """Count one hit for each (limit, key) if all are under their limits: the hits' ids, else how long
    to wait (nothing counted). The check and the count are one step under a lock per key."""
    checks = [(limit, key[:KEY_CHARS]) for limit, key in checks]
    for limit, key in checks:
        # A write first: on SQLite it takes the write lock before anything is counted.
        session.execute(
            delete(RateHit).where(RateHit.scope == limit.scope, RateHit.key == key, RateHit.at <= now() - limit.window)
        )
    if is_postgres(session):
        # Sorted, so that two requests locking the same keys cannot deadlock.
        for lock in sorted({_lock_id(limit.scope, key) for limit, key in checks}):
            session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})
    waits = [wait for limit, key in checks if (wait := wait_time(session, limit, key)) is not None]
    if waits:
        return max(waits)
    rows = [RateHit(scope=limit.scope, key=key, at=now()) for limit, key in checks]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def hit(session: Session, scope: str, key: str, limit: int, window_seconds: float) -> float | None:
    """Count one hit of `key` in `scope` if fewer than `limit` fell in the last `window_seconds`: None;
    else count nothing and return the seconds until the next hit is allowed."""
    reserved = reserve(session, [(Limit(scope, limit, timedelta(seconds=window_seconds)), key)])
    return reserved.total_seconds() if isinstance(reserved, timedelta) else None


def release(session: Session, hit_ids: Sequence[int]) -> None:
    """Forget reserved hits outright (an attempt that was no failure, with nobody else trying)."""
    session.execute(delete(RateHit).where(RateHit.id.in_(list(hit_ids))))


def hold(session: Session, checks: Sequence[tuple[Limit, str]], hit_ids: Sequence[int], counted_for: timedelta) -> None:
    """Keep hits that `reserve(checks)` returned counted for `counted_for` more, then let them leave the
    window (a right password: one of the allowed checks while a burst of guesses is on, no failure after).

    Releasing it at once would hand its slot to a guess that reserves later in the same burst."""
    for (limit, key), hit_id in zip(checks, hit_ids, strict=True):
        session.execute(
            update(RateHit)
            .where(RateHit.id == hit_id, RateHit.scope == limit.scope, RateHit.key == key[:KEY_CHARS])
            .values(at=now() - limit.window + counted_for)
        )


def forgive(session: Session, limit: Limit, key: str, hit_ids: Sequence[int]) -> int:
    """Forget the hits among `hit_ids` that `key` made in `limit`'s scope; how many went.

    After a right password only the failures its own browser made are forgiven: a success never frees
    the failures of someone else guessing the same address."""
    if not hit_ids:
        return 0
    result = session.execute(
        delete(RateHit).where(
            RateHit.id.in_(list(hit_ids)), RateHit.scope == limit.scope, RateHit.key == key[:KEY_CHARS]
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def purge(session: Session) -> int:
    """Drop hits older than any window (keys that never came back); how many went."""
    result = session.execute(delete(RateHit).where(RateHit.at <= now() - KEEP))
    return int(getattr(result, "rowcount", 0) or 0)


def minutes(wait: timedelta) -> int:
    """A wait rounded up to whole minutes, for messages."""
    return max(1, -(-int(wait.total_seconds()) // 60))


@job("server.ratelimit.purge", every=3600)
def purge_job() -> int:
    """Hourly: drop hits no window can still count."""
    with session_scope() as session:
        return purge(session)
