"""The outbox pass: claim due mails, drop what may no longer go, send in rounds, record each answer.

A mail can be lost or doubled only in the gap between the SMTP server accepting it and the outbox
recording that. We choose at-most-once for that gap: before each round the worker commits
`sending_at` on the round's rows (together with the previous round's outcomes and the rate-limit
reservation). A worker that dies leaves those rows with `sending_at` set; after their lease runs out
they become UNCERTAIN — never resent on their own, listed in the admin outbox for a person to
resend. Rows it had claimed but not yet begun simply lose their lease and are sent by the next pass.
Each connection works in rounds of its own and marks its next round while the current one is on the
wire, so at most 2 x connections x ROUND_PER_CONNECTION mails are ever in doubt after a crash.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from courses.models import Enrollment
from mail.dkim import Signer, signer_from_settings
from mail.models import CANCELLED, TRANSACTIONAL, UNCERTAIN, OutgoingMail, RateBucket
from mail.suppressions import BLOCKS_TRANSACTIONAL, suppressed
from mail.transport import Envelope, MaildirOutbox, Outcome, SmtpPool, outbox_path, parse_smtp_url
from server.clock import now
from server.config import get_settings
from server.db import is_postgres
from server.queue import QUEUED, backoff, claim, fail, retry_later, succeed

ROUND_PER_CONNECTION = 10
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
STOPPED = ("left", "unsubscribed")
# The columns an SMTP answer changes (server.queue's succeed/retry_later/fail, and ours).
OUTCOME = ("id", "state", "locked_until", "last_error", "next_attempt_at", "sending_at", "sent_at", "smtp_response")


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


def cancel_stopped(session: Session, rows: list[OutgoingMail], report: SendReport) -> list[OutgoingMail]:
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
    keep = []
    for row in rows:
        reason = blocked.get(row.to_addr)
        if reason and row.kind in TRANSACTIONAL and reason not in BLOCKS_TRANSACTIONAL:
            reason = None
        if reason is None and row.enrollment_id in stopped:
            reason = "learner unsubscribed or left"
        if reason:
            row.state, row.locked_until, row.last_error = CANCELLED, None, f"suppressed: {reason}"
            report.cancelled += 1
        else:
            keep.append(row)
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
    # Wall-clock seconds, not server.clock: the limit is about real sending speed, even under a frozen clock.
    current = time.time()
    start = max(current, bucket.tat)
    bucket.tat = start + count / rate
    return start - current


def record(row: OutgoingMail, outcome: Outcome, report: SendReport) -> None:
    """Write the server's answer on the row: sent, retry with backoff (4xx), or failed (5xx)."""
    row.sending_at = None
    row.smtp_response = outcome.detail[:500]
    if outcome.accepted:
        succeed(row)
        row.sent_at = now()
        report.sent += 1
    elif outcome.permanent or row.attempts >= MAX_ATTEMPTS:
        fail(row, outcome.detail)
        report.failed += 1
    else:
        retry_later(row, outcome.detail, backoff(row.attempts))
        report.retried += 1


def envelope(row: OutgoingMail, signer: Signer | None) -> Envelope:
    """The bytes to hand to the transport, DKIM-signed when a key is configured."""
    data = row.message.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    if signer is not None:
        data = signer.sign(data)
    return Envelope(row.id, row.envelope_from, row.to_addr, data)


async def _deliver(session: Session, rows: list[OutgoingMail], report: SendReport) -> None:
    settings = get_settings()
    transport: SmtpPool | MaildirOutbox
    if settings.smtp_url:
        transport = SmtpPool(parse_smtp_url(settings.smtp_url), settings.smtp_connections)
    else:
        transport = MaildirOutbox(outbox_path(settings.data_dir))
    signer = signer_from_settings(settings)
    waiting = deque(rows)
    answered: list[OutgoingMail] = []
    # The rows are detached: outcomes are written with bulk UPDATEs by id, not by the unit of work,
    # which costs more per mail than the SMTP transaction itself.
    for row in rows:
        session.expunge(row)

    def save_answers() -> None:
        # Lanes only append to `answered` (in the loop's thread): take a prefix, then drop exactly it.
        taken = answered[:]
        if taken:
            session.execute(update(OutgoingMail), [{name: getattr(row, name) for name in OUTCOME} for row in taken])
            del answered[: len(taken)]

    def begin_round(chunk: list[OutgoingMail]) -> float:
        session.execute(
            update(OutgoingMail).where(OutgoingMail.id.in_([row.id for row in chunk])).values(sending_at=now())
        )
        save_answers()
        wait = reserve(session, len(chunk), settings.mail_rate)
        session.commit()  # in flight, durably, before any byte leaves (with the outcomes recorded so far)
        return wait

    database = asyncio.Lock()

    def take() -> list[OutgoingMail]:
        return [waiting.popleft() for _ in range(min(ROUND_PER_CONNECTION, len(waiting)))]

    async def mark(chunk: list[OutgoingMail]) -> float:
        async with database:
            return await asyncio.to_thread(begin_round, chunk)

    async def lane(index: int) -> None:
        # Each connection takes its own rounds, so a slow connection does not hold the others back. The
        # next round is marked in the database (in a thread) while this one is on the wire.
        chunk = take()
        wait = await mark(chunk) if chunk else 0.0
        while chunk:
            following = take()
            marking = asyncio.ensure_future(mark(following)) if following else None
            if wait > 0:
                await asyncio.sleep(wait)
            outcomes = await transport.send_on(index, [envelope(row, signer) for row in chunk])
            for row, outcome in zip(chunk, outcomes, strict=True):
                record(row, outcome, report)
                answered.append(row)
                if not outcome.accepted:
                    report.errors.append(f"{row.to_addr}: {outcome.detail}")
            wait = await marking if marking else 0.0
            chunk = following

    try:
        await asyncio.gather(*(lane(index) for index in range(transport.lanes)))
        save_answers()
        session.commit()
    finally:
        await transport.close()


def send_batch(session: Session, limit: int = 200, lease: timedelta = LEASE) -> SendReport:
    """One outbox pass: recover crashed rounds, claim up to `limit` due mails, send them, record."""
    report = SendReport()
    report.uncertain = mark_uncertain(session)
    rate = get_settings().mail_rate
    if rate > 0:
        # Keep a batch well inside its lease when the rate limit makes sending slow.
        limit = max(1, min(limit, int(rate * lease.total_seconds() / 2)))
    rows = claim(session, OutgoingMail, limit=limit, lease=lease, extra=and_(OutgoingMail.sending_at.is_(None)))
    if not rows:
        return report
    rows = cancel_stopped(session, rows, report)
    session.commit()
    if rows:
        asyncio.run(_deliver(session, rows, report))
    return report


def send_all(session: Session, limit: int = 200, lease: timedelta = LEASE) -> SendReport:
    """Outbox passes until nothing more is due now; the summed report."""
    total = SendReport()
    while True:
        report = send_batch(session, limit, lease)
        for name in ("sent", "retried", "failed", "cancelled", "uncertain"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.errors.extend(report.errors)
        handled = report.sent + report.retried + report.failed + report.cancelled
        if handled < limit:
            return total
