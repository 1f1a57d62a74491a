"""Rate limits kept in the database, so that every web process counts the same attempts.

An attempt is reserved before the guarded work (a password check) and counted in the same locked
transaction, so parallel requests cannot all see "under the limit" before any of them is recorded:
`reserve()` inside `write_scope()` (BEGIN IMMEDIATE on SQLite; a transaction-scoped advisory lock
per key on PostgreSQL), then `release()` the reservation when the attempt turned out well.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from server.floor.clock import now
from server.floor.db import is_postgres
from web.models import Attempt


@dataclass(frozen=True)
class Limit:
    """At most `attempts` within `window` for one key of `scope`."""

    scope: str
    attempts: int
    window: timedelta


LOGIN_PER_EMAIL = Limit("login-email", 5, timedelta(minutes=15))
# Wider, for one client guessing many addresses (a shared NAT may hold several people).
LOGIN_PER_CLIENT = Limit("login-client", 30, timedelta(minutes=15))
RESET_PER_EMAIL = Limit("reset-email", 3, timedelta(hours=1))
# Against one client mailing reset links to many addresses (the mails would look like spam from us).
RESET_PER_CLIENT = Limit("reset-client", 10, timedelta(hours=1))


def wait_time(session: Session, limit: Limit, key: str) -> timedelta | None:
    """How long `key` must wait before its next attempt, or None when it may try now."""
    since = now() - limit.window
    where = (Attempt.scope == limit.scope, Attempt.key == key, Attempt.at > since)
    if (session.scalar(select(func.count(Attempt.id)).where(*where)) or 0) < limit.attempts:
        return None
    # The block lifts when the `attempts`-th most recent attempt leaves the window.
    anchor = session.scalars(
        select(Attempt.at).where(*where).order_by(Attempt.at.desc()).offset(limit.attempts - 1).limit(1)
    ).one()
    return max(anchor + limit.window - now(), timedelta(seconds=1))


def record(session: Session, limit: Limit, key: str) -> int:
    """Count one attempt for `key`, forgetting this key's attempts that left the window; its id."""
    session.execute(
        delete(Attempt).where(Attempt.scope == limit.scope, Attempt.key == key, Attempt.at <= now() - limit.window)
    )
    attempt = Attempt(scope=limit.scope, key=key, at=now())
    session.add(attempt)
    session.flush()
    return attempt.id


def _lock_key(limit: Limit, key: str) -> int:
    """A signed 64-bit number for PostgreSQL's advisory locks, one per scope and key."""
    return int.from_bytes(hashlib.sha256(f"{limit.scope}\0{key}".encode()).digest()[:8], "big", signed=True)


def reserve(session: Session, checks: Sequence[tuple[Limit, str]]) -> list[int] | timedelta:
    """Count one attempt for each (limit, key) if all are under their limits: the attempts' ids,
    else how long to wait (nothing counted). Call inside `write_scope()`; the check and the count
    are one step, so of many parallel requests no more than the limit get through."""
    if is_postgres(session):
        # Sorted, so that two requests locking the same keys cannot deadlock.
        for lock in sorted({_lock_key(limit, key) for limit, key in checks}):
            session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})
    waits = [wait for limit, key in checks if (wait := wait_time(session, limit, key)) is not None]
    if waits:
        return max(waits)
    return [record(session, limit, key) for limit, key in checks]


def release(session: Session, attempt_ids: Sequence[int]) -> None:
    """Forget reserved attempts that turned out well (a right password is no failed login)."""
    session.execute(delete(Attempt).where(Attempt.id.in_(list(attempt_ids))))


def clear(session: Session, limit: Limit, key: str) -> None:
    """Forget `key`'s attempts (after a successful login)."""
    session.execute(delete(Attempt).where(Attempt.scope == limit.scope, Attempt.key == key))


def minutes(wait: timedelta) -> int:
    """A wait rounded up to whole minutes, for messages."""
    return max(1, -(-int(wait.total_seconds()) // 60))
