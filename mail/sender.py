"""The outbox pass: claim due mails, drop what may no longer go, send in rounds, record each answer.

A mail can be lost or doubled only in the gap between the SMTP server accepting it and the outbox
recording that. We choose at-most-once for that gap: before a round goes on the wire the worker
commits `sending_at` on its rows (together with the answers so far and the rate-limit reservation).
A worker that dies leaves those rows with `sending_at` set; after their lease runs out they become
UNCERTAIN — never resent on their own, listed in the admin outbox for a person to resend. Rows it
had leased but not yet begun simply lose their lease and are sent by the next pass.
Rounds are marked one per connection in one transaction, when a connection finds no marked round
left; so what is in doubt after a crash is at most the rounds of the last two markings: fewer than
2 x connections x ROUND_PER_CONNECTION mails.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from courses.models import Enrollment
from mail.dkim import Signer, signed, signer_from_settings, wire_bytes
from mail.models import CANCELLED, TRANSACTIONAL, UNCERTAIN, OutgoingMail, RateBucket
from mail.suppressions import BLOCKS_TRANSACTIONAL, suppressed
from mail.transport import Envelope, MaildirOutbox, Outcome, SmtpPool, outbox_path, parse_smtp_url
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.db import UTCDateTime, is_postgres
from server.floor.queue import DONE, FAILED, QUEUED, backoff, lease_update

ROUND_PER_CONNECTION = 10
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
STOPPED = ("left", "unsubscribed")


@dataclass
class SendReport:
    """What one pass did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    uncertain: int = 0
    errors: list[str] = field(default_factory=list)


def mark_uncertain(session: Session) -> int:
    """Rows whose sender died mid-round (sending_at set, lease over) become UNCERTAIN; how many."""
    result = session.execute(
        update(OutgoingMail)
        .where(
            OutgoingMail.state == QUEUED,
            OutgoingMail.sending_at.is_not(None),
            OutgoingMail.locked_until < now(),
        )
        .values(state=UNCERTAIN, locked_until=None, last_error="worker stopped between SMTP and recording")
    )
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


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
    answer: dict[str, Any] = field(default_factory=dict)


_TABLE = cast(Table, OutgoingMail.__table__)


def lease(session: Session, limit: int, duration: timedelta = LEASE) -> list[Claimed]:
    """Lease up to `limit` due mails not already in flight, oldest due first, commit the lease; what
    sending needs of each (Core rows, not ORM objects: a batch of 1,000 is read without a unit of work)."""
    columns = [_TABLE.c[name] for name in ("id", "kind", "to_addr", "envelope_from", "message", "enrollment_id")]
    statement = lease_update(session, _TABLE, limit, duration, extra=_TABLE.c.sending_at.is_(None))
    rows = [Claimed(*row) for row in session.execute(statement.returning(*columns, _TABLE.c.attempts))]
    session.commit()
    rows.sort(key=lambda row: row.id)
    return rows


# Every answer writes the same columns, so a round's answers go in one executemany.
_ANSWER = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("mail_id"))
    .values(
        state=bindparam("new_state"),
        locked_until=None,
        sending_at=None,
        last_error=bindparam("error"),
        next_attempt_at=func.coalesce(bindparam("retry_at", type_=UTCDateTime), _TABLE.c.next_attempt_at),
        sent_at=bindparam("sent", type_=UTCDateTime),
        smtp_response=bindparam("response"),
    )
)


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
            update(_TABLE)
            .where(_TABLE.c.id == bindparam("mail_id"))
            .values(state=CANCELLED, locked_until=None, last_error=bindparam("error")),
            cancelled,
        )
        report.cancelled += len(cancelled)
    return keep


def reserve(session: Session, count: int, rate: float) -> float:
    """Take `count` sends from the global rate (GCRA row shared by all workers); seconds to wait first."""
    if rate <= 0:
        return 0.0
    query = select(RateBucket).where(RateBucket.name == "smtp")
    if is_postgres(session):
        query = query.with_for_update()
    bucket = session.scalar(query)
    if bucket is None:
        bucket = RateBucket(name="smtp", tat=0.0)
        session.add(bucket)
    # Wall-clock seconds, not server.floor.clock: the limit is about real sending speed, even under a frozen clock.
    current = time.time()
    start = max(current, bucket.tat)
    bucket.tat = start + count / rate
    return start - current


def record(row: Claimed, outcome: Outcome, report: SendReport) -> None:
    """Write the server's answer on the row: sent, retry with backoff (4xx), or failed (5xx)."""
    answer = row.answer
    answer.update(mail_id=row.id, response=outcome.detail[:500], error=None, retry_at=None, sent=None)
    if outcome.accepted:
        answer.update(new_state=DONE, sent=now())
        report.sent += 1
    elif outcome.permanent or row.attempts >= MAX_ATTEMPTS:
        answer.update(new_state=FAILED, error=outcome.detail[:2000])
        report.failed += 1
    else:
        answer.update(new_state=QUEUED, error=outcome.detail[:2000], retry_at=now() + backoff(row.attempts))
        report.retried += 1


def envelope(row: Claimed | OutgoingMail, signer: Signer | None) -> Envelope:
    """The bytes to hand to the transport, DKIM-signed when a key is configured (mostly when it was queued)."""
    return Envelope(row.id, row.envelope_from, row.to_addr, wire_bytes(signed(row.message, signer)))


async def _deliver(session: Session, rows: list[Claimed], report: SendReport) -> None:
    settings = get_settings()
    transport: SmtpPool | MaildirOutbox
    if settings.smtp_url:
        transport = SmtpPool(parse_smtp_url(settings.smtp_url), settings.smtp_connections)
    else:
        transport = MaildirOutbox(outbox_path(settings.data_dir))
    signer = signer_from_settings(settings)
    waiting = deque(rows)
    ready: deque[tuple[list[Claimed], float]] = deque()  # rounds marked in flight, with their rate wait
    answered: list[Claimed] = []

    def save_answers() -> None:
        if answered:
            session.execute(_ANSWER, [row.answer for row in answered])
            answered.clear()

    def refill() -> None:
        # One round for each connection, marked in one transaction with the answers so far. It runs in
        # the loop's own thread: on SQLite it is CPU work in this process, on PostgreSQL a local round
        # trip, and handing it to a thread measured slower on both (GIL hand-offs).
        chunks: list[list[Claimed]] = []
        while waiting and len(chunks) < transport.lanes:
            chunks.append([waiting.popleft() for _ in range(min(ROUND_PER_CONNECTION, len(waiting)))])
        session.execute(
            update(_TABLE)
            .where(_TABLE.c.id.in_([row.id for chunk in chunks for row in chunk]))
            .values(sending_at=now())
        )
        save_answers()
        waits = [reserve(session, len(chunk), settings.mail_rate) for chunk in chunks]
        session.commit()  # in flight, durably, before any byte leaves (with the outcomes recorded so far)
        ready.extend(zip(chunks, waits, strict=True))

    async def lane(index: int) -> None:
        # Each connection takes the next marked round when it is free, so a slow connection does not
        # hold the others back; the first one to find none marks a round for every connection.
        while ready or waiting:
            if not ready:
                refill()
            chunk, wait = ready.popleft()
            if wait > 0:
                await asyncio.sleep(wait)
            outcomes = await transport.send_on(index, [envelope(row, signer) for row in chunk])
            for row, outcome in zip(chunk, outcomes, strict=True):
                record(row, outcome, report)
                answered.append(row)
                if not outcome.accepted:
                    report.errors.append(f"{row.to_addr}: {outcome.detail}")

    try:
        await asyncio.gather(*(lane(index) for index in range(transport.lanes)))
        save_answers()
        session.commit()
    finally:
        await transport.close()


def send_batch(session: Session, limit: int = 200, duration: timedelta = LEASE) -> SendReport:
    """One outbox pass: lease up to `limit` due mails, send them, record (`send_all` recovers crashed
    rounds first)."""
    report = SendReport()
    rate = get_settings().mail_rate
    if rate > 0:
        # Keep a batch well inside its lease when the rate limit makes sending slow.
        limit = max(1, min(limit, int(rate * duration.total_seconds() / 2)))
    rows = lease(session, limit, duration)
    if not rows:
        return report
    rows = cancel_stopped(session, rows, report)
    session.commit()
    if rows:
        asyncio.run(_deliver(session, rows, report))
    # The rows changed behind the ORM's back: objects the caller holds must be read again.
    session.expire_all()
    return report


def send_all(session: Session, limit: int = 200, duration: timedelta = LEASE) -> SendReport:
    """Crashed rounds marked uncertain, then outbox passes until nothing more is due now; the summed report."""
    total = SendReport(uncertain=mark_uncertain(session))
    while True:
        report = send_batch(session, limit, duration)
        for name in ("sent", "retried", "failed", "cancelled"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.errors.extend(report.errors)
        handled = report.sent + report.retried + report.failed + report.cancelled
        if handled < limit:
            return total
