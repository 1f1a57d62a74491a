"""How a send pass takes its mails from the outbox: leases of due rows, what may no longer go dropped.

A pass leases a batch, and while it sends that batch it takes the next one, so the SMTP connections
never wait for a lease (nor are they closed and opened again between batches). On PostgreSQL the next
lease is taken in a thread with a session of its own while the event loop goes on sending (a lease
of 1,000 rows of 3.3 KB is a round trip of 0.1-0.3 s); on SQLite, where a lease is work in this
process and a second connection would only wait for the write lock, in the pass's session when the
rows run out.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from courses.models import Enrollment
from mail.answers import TABLE
from mail.models import CANCELLED, TRANSACTIONAL
from mail.suppressions import BLOCKS_TRANSACTIONAL, suppressed
from server.floor.db import is_postgres
from server.floor.queue import lease_update

STOPPED = ("left", "unsubscribed")
LEASE = timedelta(seconds=30)  # a pass renews its leases (sender.RENEW_EVERY); one that stopped for LEASE is dead


@dataclass
class SendReport:
    """What one pass did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    uncertain: int = 0
    resent: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Claimed:
    """An outbox row leased to this pass: what sending needs, and the answer to write back."""

    id: int
    kind: str
    to_addr: str
    envelope_from: str
    message: str
    enrollment_id: int | None
    attempts: int
    created_at: datetime
    answer: dict[str, Any] = field(default_factory=dict)
    bounce: str | None = None  # a refusal that counts as a bounce of the address (mail.bounces)


def lease(session: Session, limit: int, duration: timedelta = LEASE) -> list[Claimed]:
    """Lease up to `limit` due mails not already in flight, oldest due first, commit the lease; what
    sending needs of each (Core rows, not ORM objects: a batch of 1,000 is read without a unit of work)."""
    columns = [TABLE.c[name] for name in ("id", "kind", "to_addr", "envelope_from", "message", "enrollment_id")]
    statement = lease_update(session, TABLE, limit, duration, extra=TABLE.c.sending_at.is_(None))
    returning = statement.returning(*columns, TABLE.c.attempts, TABLE.c.created_at)
    rows = [Claimed(*row) for row in session.execute(returning)]
    session.commit()
    rows.sort(key=lambda row: row.id)
    return rows


def cancel_stopped(session: Session, rows: list[Claimed], report: SendReport) -> list[Claimed]:
    """Cancel mails to suppressed addresses and to learners who left or unsubscribed; the rest."""
    blocked = suppressed(session, [row.to_addr for row in rows])
    enrollment_ids = {row.enrollment_id for row in rows if row.enrollment_id and row.kind not in TRANSACTIONAL}
    stopped = set()
    if enrollment_ids:
        stopped = set(
            session.scalars(
                select(Enrollment.id).where(Enrollment.id.in_(enrollment_ids), Enrollment.status.in_(STOPPED))
            )
        )
    keep, cancelled = [], []
    for row in rows:
        reason = blocked.get(row.to_addr)
        if reason and row.kind in TRANSACTIONAL and reason not in BLOCKS_TRANSACTIONAL:
            reason = None
        if reason is None and row.enrollment_id in stopped:
            reason = "learner unsubscribed or left"
        if reason:
            cancelled.append({"mail_id": row.id, "error": f"suppressed: {reason}"})
        else:
            keep.append(row)
    if cancelled:
        session.execute(
            update(TABLE)
            .where(TABLE.c.id == bindparam("mail_id"))
            .values(state=CANCELLED, locked_until=None, last_error=bindparam("error")),
            cancelled,
        )
        report.cancelled += len(cancelled)
    return keep


def take(
    session: Session, limit: int, duration: timedelta, report: SendReport, again: bool = True
) -> tuple[list[Claimed], bool]:
    """A batch to send: leased, the stopped ones cancelled, committed; and whether the queue had fewer
    than `limit` due (no batch after this one). A batch that was all cancelled is followed by the next
    (`again`)."""
    while True:
        leased = lease(session, limit, duration)
        last = len(leased) < limit
        rows = cancel_stopped(session, leased, report)
        session.commit()
        if rows or last or not again:
            return rows, last


class Feed:
    """The rows of a pass, batch after batch: `waiting` to be sent, `held` leased and not yet answered."""

    def __init__(self, session: Session, limit: int, duration: timedelta, report: SendReport, more: bool) -> None:
        self.session, self.limit, self.duration, self.report = session, limit, duration, report
        self.apart = is_postgres(session)  # the next lease in a thread, with a session of its own
        self.last = not more  # no lease after the ones taken so far
        self.waiting: deque[Claimed] = deque()
        self.held: set[int] = set()
        self._next: asyncio.Future[tuple[list[Claimed], bool]] | None = None

    def first(self) -> bool:
        """Take the first batch, in the pass's session; False when there is nothing to send."""
        self._add(*take(self.session, self.limit, self.duration, self.report, again=not self.last))
        return bool(self.waiting)

    @property
    def over(self) -> bool:
        """Nothing waiting and no batch to come."""
        return not self.waiting and self.last and self._next is None

    def ahead(self) -> None:
        """On PostgreSQL, start taking the next batch when half of this one is on its way."""
        if self.apart and not self.last and self._next is None and len(self.waiting) <= self.limit // 2:
            self._next = asyncio.ensure_future(asyncio.to_thread(self._take_apart))

    def take_here(self) -> None:
        """Take the next batch in the pass's session now (SQLite; the caller holds the pass's writes)."""
        if not self.apart and not self.last:
            self._add(*take(self.session, self.limit, self.duration, self.report))

    async def arrival(self) -> None:
        """Wait for the batch being taken apart (if any) and add it (once, whoever waited)."""
        self.ahead()
        pending = self._next
        if pending is None:
            return
        batch = await pending
        if self._next is pending:
            self._next = None
            self._add(*batch)

    def cancel(self) -> None:
        """Stop waiting for a batch being taken (its rows' leases run out and another pass sends them)."""
        if self._next is not None:
            self._next.cancel()

    def _take_apart(self) -> tuple[list[Claimed], bool]:
        with Session(bind=self.session.get_bind()) as own:
            return take(own, self.limit, self.duration, self.report)

    def _add(self, rows: list[Claimed], last: bool) -> None:
        self.waiting.extend(rows)
        self.held.update(row.id for row in rows)
        self.last = self.last or last
