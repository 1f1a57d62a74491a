"""The outbox pass: claim due mails, drop what may no longer go, send, record each answer.

A mail can be lost or doubled only in the gap between the SMTP server accepting it and the outbox
recording that. Each connection works in rounds of ROUND_PER_CONNECTION mails: before a round goes on
the wire its rows' `sending_at` is committed (rounds are marked one per connection in one transaction,
when a connection finds none left), and each answer is committed before the same connection hands over
its next mail can be accepted: the commit is awaited after that mail's DATA command and before its body,
so the answers of all connections that came back meanwhile share one commit. So a worker killed
mid-send leaves at most one mail per SMTP connection accepted but not recorded.

Leases are short (LEASE) and renewed while the pass runs, so a dead pass's rows are free soon after it
stopped: those it had not begun are leased again at once; those with `sending_at` become UNCERTAIN and
GRACE later go out again by themselves, the same bytes with the same Message-ID (within the retry
window; older ones wait for a person, `mechmooc mail uncertain`). Duplicates after a crash: at most
one per SMTP connection; nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from mail.answers import database_errors, open_writer
from mail.bounces import record_bounce, refusal_bounce
from mail.dkim import Signer, signed, signer_from_settings, wire_bytes
from mail.leasing import LEASE, STOPPED, Claimed, Feed, SendReport, cancel_stopped, lease
from mail.models import UNCERTAIN, OutgoingMail, RateBucket
from mail.transport import Envelope, MaildirOutbox, Outcome, SmtpPool, outbox_path, parse_smtp_url
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.db import is_postgres
from server.floor.queue import DONE, FAILED, QUEUED, backoff

log = logging.getLogger(__name__)
ROUND_PER_CONNECTION = 10
# A pass renews its leases every RENEW_EVERY seconds; a pass that stopped renewing for LEASE is dead.
RENEW_EVERY = 10.0
# How long after a dead pass's lease ran out its uncertain mails wait before they are sent again.
GRACE = timedelta(seconds=15)
# Under a rate limit, a batch leases what it can send in this many seconds.
BATCH_SECONDS = 150
# No connection (the server down) is retried sooner than a recipient's 4xx: the outage will end.
CONNECTION_BACKOFF = (15.0, 600.0)  # base and cap, seconds
__all__ = ["LEASE", "STOPPED", "Claimed", "SendReport", "cancel_stopped", "lease", "recover", "send_all", "send_batch"]


def recover(session: Session) -> tuple[int, int]:
    """Mails of passes that died mid-send: UNCERTAIN once their lease ran out, and GRACE later queued
    again (the same bytes, the same Message-ID) while inside the retry window; (made uncertain, queued again)."""
    instant = now()
    uncertain = session.execute(
        update(OutgoingMail)
        .where(
            OutgoingMail.state == QUEUED,
            OutgoingMail.sending_at.is_not(None),
            or_(OutgoingMail.locked_until.is_(None), OutgoingMail.locked_until < instant),
        )
        # locked_until stays: the last moment its pass was known alive, from which GRACE counts.
        .values(state=UNCERTAIN, last_error="worker stopped between SMTP and recording")
    )
    window = timedelta(hours=get_settings().mail_retry_hours)
    last_alive = func.coalesce(OutgoingMail.locked_until, OutgoingMail.sending_at)
    resent = session.execute(
        update(OutgoingMail)
        .where(
            OutgoingMail.state == UNCERTAIN,
            OutgoingMail.sending_at.is_not(None),
            last_alive < instant - GRACE,
            OutgoingMail.created_at > instant - window,
        )
        .values(
            state=QUEUED,
            sending_at=None,
            locked_until=None,
            next_attempt_at=instant,
            last_error="sent again: its worker stopped between SMTP and recording (the same Message-ID)",
        )
    )
    session.commit()
    return int(uncertain.rowcount or 0), int(resent.rowcount or 0)  # type: ignore[attr-defined]


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


def record(row: Claimed, outcome: Outcome, report: SendReport, window: timedelta) -> None:
    """Write the server's answer on the row: sent; failed (5xx, or still refused when the retry `window`
    since it was queued ends), noting a bounce when the refusal was the address's; or retried with backoff."""
    answer = row.answer
    answer.update(mail_id=row.id, response=outcome.detail[:500], error=None, retry_at=None, sent=None)
    instant = now()
    give_up_at = row.created_at + window
    if outcome.accepted:
        answer.update(new_state=DONE, sent=instant)
        report.sent += 1
    elif outcome.permanent or instant >= give_up_at:
        answer.update(new_state=FAILED, error=outcome.detail[:2000])
        row.bounce = refusal_bounce(outcome, gave_up=not outcome.permanent)
        report.failed += 1
    else:
        delay = backoff(row.attempts, *CONNECTION_BACKOFF) if outcome.code is None else backoff(row.attempts)
        # The last attempt is made when the window ends, not a backoff step after it.
        answer.update(new_state=QUEUED, error=outcome.detail[:2000], retry_at=min(instant + delay, give_up_at))
        report.retried += 1


def envelope(row: Claimed | OutgoingMail, signer: Signer | None) -> Envelope:
    """The bytes to hand to the transport, DKIM-signed when a key is configured (mostly when it was queued)."""
    return Envelope(row.id, row.envelope_from, row.to_addr, wire_bytes(signed(row.message, signer)))


async def _deliver(session: Session, feed: Feed, report: SendReport, duration: timedelta) -> None:
    settings = get_settings()
    transport: SmtpPool | MaildirOutbox
    if settings.smtp_url:
        transport = SmtpPool(parse_smtp_url(settings.smtp_url), settings.smtp_connections)
    else:
        transport = MaildirOutbox(outbox_path(settings.data_dir))
    signer = signer_from_settings(settings)
    window = timedelta(hours=settings.mail_retry_hours)
    waiting, held = feed.waiting, feed.held  # held: leased and not answered yet, the leases to renew
    ready: deque[tuple[list[Claimed], float]] = deque()  # rounds marked in flight, with their rate wait
    answered: list[Claimed] = []
    # Group commit: answers given while `epoch` is n go out in commit n; `durable` commits are done.
    commits = {"epoch": 0, "durable": 0}
    writes = asyncio.Lock()  # one write at a time (marking, answers, renewal, a lease here), and in order
    writer = await open_writer(session)
    failed: list[BaseException] = []  # why a commit started ahead of the gates failed: no gate opens after it

    async def commit_answers() -> None:
        # With `writes` held. SQLite: the session's transaction (with the round marked by refill, if any);
        # PostgreSQL: one autocommitted statement, and the session only for a bounce or the rate bucket.
        epoch = commits["epoch"]
        commits["epoch"] += 1
        done = answered[:]
        answered.clear()
        if done:
            await writer.answers([row.answer for row in done])
            held.difference_update(row.id for row in done)
            for row in done:
                if row.bounce:
                    record_bounce(session, (row.id, row.to_addr), row.bounce, row.answer["error"] or "")
        if session.in_transaction():
            writer.commit(session)
        commits["durable"] = epoch + 1

    async def refill() -> bool:
        # One round for each connection, marked in flight (committed with the answers so far) before
        # any of its bytes leave. On SQLite it is CPU work in this process, run in the loop's own thread
        # (a worker thread measured slower: GIL hand-offs); on PostgreSQL the other connections go on
        # sending while it makes its round trip. False when there is nothing more to send.
        while True:
            async with writes:
                if ready:
                    return True  # another connection marked rounds meanwhile
                if not waiting:
                    feed.take_here()  # SQLite: the next batch now, in this session (commits the answers so far)
                if waiting:
                    chunks: list[list[Claimed]] = []
                    while waiting and len(chunks) < transport.lanes:
                        chunks.append([waiting.popleft() for _ in range(min(ROUND_PER_CONNECTION, len(waiting)))])
                    await writer.mark([row.id for chunk in chunks for row in chunk], now())
                    waits = [reserve(session, len(chunk), settings.mail_rate) for chunk in chunks]
                    await commit_answers()  # in flight, durably, before any byte leaves (with the answers so far)
                    ready.extend(zip(chunks, waits, strict=True))
                    feed.ahead()  # PostgreSQL: the next batch is taken while this one is sent
                    return True
                if feed.over:
                    return False
            await feed.arrival()  # outside `writes`: the other connections' answers go on being committed

    def durable_gate(epoch: int) -> Callable[[], Awaitable[None]]:
        # This connection's last answer (given in `epoch`) is committed before the server can accept its
        # next mail: a crash leaves at most one accepted but unrecorded mail per connection. The wait sits
        # after the next mail's MAIL, RCPT and DATA (transport: before the body), so by then the other
        # connections' answers have come back too and share the commit: about one commit per round of
        # the connections instead of one per mail or two.
        async def gate() -> None:
            if failed:
                raise failed[0]
            if commits["durable"] <= epoch:
                async with writes:
                    if commits["durable"] <= epoch:  # not taken by the commit this one waited for
                        await commit_answers()

        return gate

    async def commit_ahead() -> None:
        try:
            async with writes:
                if answered and not failed:
                    await commit_answers()
        except Exception as error:  # noqa: BLE001 - the next gate raises it, before its mail can be accepted
            failed.append(error)

    def answered_one(row: Claimed) -> None:
        # PostgreSQL: once every connection has an answer waiting, their commit starts at once, while
        # they say their next MAIL, RCPT and DATA (a gate would start it only after those round trips).
        answered.append(row)
        if writer.eager and len(answered) >= transport.lanes and not writes.locked():
            asyncio.ensure_future(commit_ahead())

    async def keep_leases() -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                async with writes:
                    await writer.renew(held, duration)
                    if session.in_transaction():
                        writer.commit(session)
            except database_errors() as error:
                # The next renewal may get through; until the lease runs out nothing is lost either way.
                session.rollback()
                log.warning("could not renew the leases of %d mails: %s", len(held), error)

    async def lane(index: int) -> None:
        # Each connection takes the next marked round when it is free, so a slow connection does not
        # hold the others back; the first one to find none marks a round for every connection.
        gate: Callable[[], Awaitable[None]] | None = None  # none before this connection's first answer
        while ready or await refill():
            chunk, wait = ready.popleft()
            if wait > 0:
                if gate is not None:
                    await gate()  # the last answer is not left unwritten while the rate limit holds
                await asyncio.sleep(wait)
            for row in chunk:
                (outcome,) = await transport.send_on(index, [envelope(row, signer)], gate)
                record(row, outcome, report, window)
                answered_one(row)
                if not outcome.accepted:
                    report.errors.append(f"{row.to_addr}: {outcome.detail}")
                gate = durable_gate(commits["epoch"])

    keeper = asyncio.ensure_future(keep_leases())
    try:
        await asyncio.gather(*(lane(index) for index in range(transport.lanes)))
        async with writes:
            if failed:
                raise failed[0]
            await commit_answers()
    finally:
        keeper.cancel()
        feed.cancel()
        await transport.close()
        await writer.close()


def _pass(session: Session, limit: int, duration: timedelta, report: SendReport, more: bool) -> None:
    rate = get_settings().mail_rate
    if rate > 0:
        # Under a slow rate limit a batch holds only what it can send soon, not the whole queue.
        limit = max(1, min(limit, int(rate * BATCH_SECONDS)))
    feed = Feed(session, limit, duration, report, more)
    if feed.first():
        asyncio.run(_deliver(session, feed, report, duration))
    # The rows changed behind the ORM's back: objects the caller holds must be read again.
    session.expire_all()


def send_batch(session: Session, limit: int = 200, duration: timedelta = LEASE) -> SendReport:
    """One outbox pass over one lease: up to `limit` due mails leased, sent, recorded (`send_all` recovers
    crashed rounds first)."""
    report = SendReport()
    _pass(session, limit, duration, report, more=False)
    return report


def send_all(session: Session, limit: int = 200, duration: timedelta = LEASE) -> SendReport:
    """Crashed rounds recovered (`recover`), then one pass that leases `limit` due mails at a time (the
    next lease taken while a batch is sent, over the same SMTP connections) until nothing more is due."""
    report = SendReport()
    report.uncertain, report.resent = recover(session)
    _pass(session, limit, duration, report, more=True)
    return report
