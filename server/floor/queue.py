"""Background work as state on database rows (Stator-style): claim due rows, do I/O, record.

A row that carries `QueuedMixin` is a unit of work. Workers `claim()` due rows in a batch —
`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single SQLite writer elsewhere — which leases them
until `locked_until`. A worker killed mid-batch leaves leases that simply expire, and the rows
are claimed again; idempotency keys on the rows themselves prevent a second effect.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import String, Table, Text, Update, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.floor.clock import now
from server.floor.db import UTCDateTime, is_postgres

QUEUED = "queued"
DONE = "done"
FAILED = "failed"


class QueuedMixin:
    """Columns of a row that is work to do: state, attempts, next attempt and lease."""

    state: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


Row = TypeVar("Row", bound=QueuedMixin)


def lease_update(
    session: Session,
    table: Table,
    limit: int,
    lease: timedelta = timedelta(minutes=5),
    at: datetime | None = None,
    extra: Any = None,
) -> Update:
    """The statement that leases up to `limit` due rows of `table` (oldest due first); add RETURNING to
    read them. One `UPDATE ... WHERE id IN (due rows)`: atomic on SQLite too, where a SELECT and then
    an UPDATE would let two workers lease the same rows; SKIP LOCKED on PostgreSQL."""
    instant = at or now()
    due = (
        select(table.c.id)
        .where(table.c.state == QUEUED)
        .where(table.c.next_attempt_at <= instant)
        .where(or_(table.c.locked_until.is_(None), table.c.locked_until < instant))
        .order_by(table.c.next_attempt_at, table.c.id)
        .limit(limit)
    )
    if extra is not None:
        due = due.where(extra)
    if is_postgres(session):
        due = due.with_for_update(skip_locked=True)
    return (
        update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(locked_until=instant + lease, attempts=table.c.attempts + 1)
    )


def renew(session: Session, table: Table, ids: Collection[int], lease: timedelta, at: datetime | None = None) -> int:
    """Extend this worker's lease on the rows `ids` it still works on (not committed); how many.

    Short leases renewed while the work goes on free a dead worker's rows soon after it stopped
    renewing them, where one long lease would keep them waiting for all of it."""
    if not ids:
        return 0
    instant = at or now()
    result = session.execute(
        update(table).where(table.c.id.in_(list(ids)), table.c.state == QUEUED).values(locked_until=instant + lease)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def claim(
    session: Session,
    model: type[Row],
    limit: int = 100,
    lease: timedelta = timedelta(minutes=5),
    at: datetime | None = None,
    extra: Any = None,
) -> list[Row]:
    """Lease up to `limit` due rows of `model` to this worker, commit the lease, and load them."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    # One round trip: the UPDATE returns the leased rows whole, loaded as `model` objects.
    leased = lease_update(session, table, limit, lease, at, extra).returning(*table.columns)
    query = select(model).from_statement(leased).execution_options(populate_existing=True)
    rows = sorted(session.scalars(query), key=lambda row: (row.next_attempt_at, row.id))  # type: ignore[attr-defined]
    session.commit()
    return rows


def backoff(attempts: int, base: float = 60.0, cap: float = 6 * 3600.0) -> timedelta:
    """Exponential delay before the next attempt: base * 2^(attempts-1), capped."""
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempts - 1))))


def succeed(row: QueuedMixin) -> None:
    """Mark the row's work done and release its lease."""
    row.state = DONE
    row.locked_until = None
    row.last_error = None


def retry_later(row: QueuedMixin, error: str, delay: timedelta, at: datetime | None = None) -> None:
    """Keep the row queued for another attempt after `delay`."""
    row.last_error = error[:2000]
    row.locked_until = None
    row.next_attempt_at = (at or now()) + delay


def fail(row: QueuedMixin, error: str) -> None:
    """Give up on the row for good, keeping the reason."""
    row.state = FAILED
    row.locked_until = None
    row.last_error = error[:2000]
