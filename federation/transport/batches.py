"""The delivery job's batches: claim due rows, POST them (`federation.transport.sending`), record the outcomes.

`deliver_one` works one batch from start to end. `deliver_overlapped` is what the job runs: while one
batch's POSTs go out on the event loop, one database thread records the previous batch's outcomes and
then claims the next batch, whose signing starts as soon as it is claimed. The sender does not wait
for a commit between batches, nor the signer threads for a claim:

    database thread:  claim 1 | claim 2 ............ | record 1, claim 3 | record 2, claim 4 | ...
    event loop:               | send 1               | send 2            | send 3            | ...

Batches are still sent one after the other in the order they were claimed, each row by one POST, and
every outcome is recorded (a failure anywhere stops the job; rows claimed and not recorded are claimed
again when their lease ends, as after a crash). Two things the strict order gave are kept:
- what recording batch N decides about a host, batch N+1 (claimed before it) does not ignore: when a
  host failed in N and has rows in N+1, N's outcomes are committed first, and N+1's rows of a host
  they found unavailable are released unsent, as if not claimed (that claim would not have taken
  them: their next attempt waits for the host's probe);
- a batch whose turn comes more than RENEW_AFTER after its claim has its lease renewed, and is
  signed again (a fresh Date), before it is sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from federation.models import Delivery, RemoteActor, RemoteHost
from federation.protocol.crypto import SigningKey
from federation.transport import fetch
from federation.transport.fetch import FetchError, store_actor
from federation.transport.hosts import delivery_host
from federation.transport.keys import instance_signing_key, signing_key
from federation.transport.moderation import is_blocked
from federation.transport.outcomes import Attempt, record, record_batch
from federation.transport.poster import Poster
from federation.transport.presign import Signed
from federation.transport.sending import Outgoing, send_all, start_signing
from server.floor.clock import now
from server.floor.queue import claim, fail, renew, succeed

ACTOR_TARGET = "actor:"  # prefix of a row's inbox while the recipient actor is not resolved yet
BATCH = 500
PER_HOST_BATCH = 40  # 40 / PER_HOST x the 15 s timeout stays well inside claim()'s 5-minute lease
LEASE = timedelta(minutes=5)
RENEW_AFTER = 30.0  # seconds between a batch's claim and its sending before its lease is renewed
T = TypeVar("T")


@dataclass
class Claimed:
    """A claimed batch: the rows worked, those to POST (by id) and their POSTs, the senders' keys."""

    rows: list[Delivery]
    ready: dict[int, Delivery]
    posts: list[Outgoing]
    keys: dict[str, SigningKey]
    at: float = field(default_factory=time.monotonic)  # when it was claimed
    signing: dict[int, asyncio.Future[Signed]] | None = None  # signatures begun ahead of its turn

    def hosts(self) -> set[str]:
        """The hosts this batch POSTs to."""
        return {post.host for post in self.posts}


def _fetch_unknown(session: Session, actors: set[str]) -> dict[str, RemoteActor | str]:
    """Each actor's cache row, fetching the missing ones with the database let go; or an error text."""
    found: dict[str, RemoteActor | str] = {}
    for row in session.scalars(select(RemoteActor).where(RemoteActor.ap_id.in_(actors))):
        found[row.ap_id] = row
    missing = actors - set(found)
    if not missing:
        return found
    key = instance_signing_key(session)
    session.commit()  # no writer lock held across the network (SQLite)
    documents: dict[str, dict[str, Any] | str] = {}
    for actor in missing:
        try:
            documents[actor] = fetch.get_json(actor, key)
        except FetchError as error:
            documents[actor] = str(error)
    for actor, document in documents.items():
        try:
            found[actor] = store_actor(session, document, actor) if isinstance(document, dict) else document
        except FetchError as error:
            found[actor] = str(error)
    return found


def _resolve_actor_rows(session: Session, rows: list[Delivery], give_up_after: timedelta) -> list[Delivery]:
    """Rows addressed to an unresolved actor: fetch it and point the row at its (shared) inbox."""
    unresolved = [row for row in rows if row.inbox.startswith(ACTOR_TARGET)]
    actors = _fetch_unknown(session, {row.inbox.removeprefix(ACTOR_TARGET) for row in unresolved})
    ready = [row for row in rows if not row.inbox.startswith(ACTOR_TARGET)]
    for row in unresolved:
        actor = actors[row.inbox.removeprefix(ACTOR_TARGET)]
        if isinstance(actor, str):
            record(session, row, Attempt(row.id, None, actor), now(), give_up_after)
            continue
        inbox = actor.shared_inbox or actor.inbox
        if is_blocked(session, inbox):
            fail(row, f"{inbox} is on a blocked domain")
            continue
        taken = session.scalar(
            select(Delivery.id).where(Delivery.activity_id == row.activity_id, Delivery.inbox == inbox)
        )
        if taken is not None:
            succeed(row)  # that inbox gets this activity through another row already
            row.last_error = f"merged into delivery {taken}"
            continue
        row.inbox, row.host = inbox, delivery_host(inbox)
        ready.append(row)
    session.flush()
    return ready


def _within_lease(session: Session, rows: list[Delivery]) -> list[Delivery]:
    """At most PER_HOST_BATCH rows per host; the others are released for the next batch."""
    # Even if every POST times out the batch ends within its lease: a batch outliving its lease
    # would let another worker claim and send the same rows again.
    kept: list[Delivery] = []
    per_host: dict[str, int] = {}
    for row in rows:
        per_host[row.host] = per_host.get(row.host, 0) + 1
        if per_host[row.host] <= PER_HOST_BATCH:
            kept.append(row)
        else:
            row.locked_until, row.attempts = None, max(0, row.attempts - 1)
    if len(kept) < len(rows):
        session.commit()
    return kept


def claim_batch(session: Session, limit: int, give_up_after: timedelta) -> Claimed | None:
    """Claim up to `limit` due rows, resolve the actors among them and make the senders' keys (committed)."""
    rows = _within_lease(session, claim(session, Delivery, limit=limit, lease=LEASE))
    if not rows:
        return None
    ready = _resolve_actor_rows(session, rows, give_up_after)
    keys = {sender: signing_key(session, sender) for sender in {row.sender for row in ready}}
    session.commit()  # keys made lazily must be stored before anyone sees our signatures
    posts = [Outgoing(row.id, row.host, row.inbox, row.body.encode(), row.sender) for row in ready]
    return Claimed(rows, {row.id: row for row in ready}, posts, keys)


def record_outcomes(session: Session, batch: Claimed, attempts: list[Attempt], give_up_after: timedelta) -> None:
    """Write and commit the outcome of each of the batch's POSTs."""
    record_batch(session, batch.ready, attempts, now(), give_up_after)
    session.commit()


def deliver_one(session: Session, limit: int, give_up_after: timedelta) -> int:
    """Claim, send and record one batch; how many rows were worked."""
    batch = claim_batch(session, limit, give_up_after)
    if batch is None:
        return 0
    attempts = asyncio.run(send_all(batch.posts, batch.keys)) if batch.posts else []
    record_outcomes(session, batch, attempts, give_up_after)
    return len(batch.rows)


def _hold_back(session: Session, batch: Claimed, failing: set[str]) -> None:
    """Release, unsent, the batch's rows of hosts the previous batch's outcomes found unavailable."""
    names = failing & batch.hosts()
    down = set(
        session.scalars(
            select(RemoteHost.host).where(RemoteHost.host.in_(names), RemoteHost.unavailable_since.isnot(None))
        )
    )
    if not down:
        return
    for row in [row for row in batch.ready.values() if row.host in down]:
        row.locked_until, row.attempts = None, max(0, row.attempts - 1)
        del batch.ready[row.id]
        batch.rows.remove(row)
    batch.posts = [post for post in batch.posts if post.host not in down]
    session.commit()


def _renew(session: Session, batch: Claimed) -> None:
    table: Table = Delivery.__table__  # type: ignore[assignment]
    renew(session, table, list(batch.ready), LEASE)
    session.commit()
    batch.at = time.monotonic()


async def deliver_overlapped(session: Session, poster: Poster, limit: int, give_up_after: timedelta) -> int:
    """Every due batch, each sent while the database thread records the one before and claims the
    one after (see the module's docstring); how many rows were worked. `session` is used by that
    thread alone while this runs."""
    loop = asyncio.get_running_loop()
    total = 0
    with ThreadPoolExecutor(1, thread_name_prefix="delivery-db") as db:

        def in_db(function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
            return loop.run_in_executor(db, function, *args)

        async def claimed(after: asyncio.Future[None] | None = None) -> Claimed | None:
            if after is not None:
                await after  # the outcomes before a claim are committed first (and their failure stops us)
            batch = await in_db(claim_batch, session, limit, give_up_after)
            if batch is not None and batch.posts:
                batch.signing = start_signing(batch.posts, batch.keys)
            return batch

        recording: asyncio.Future[None] | None = None  # the previous batch's outcomes being written
        failing: set[str] = set()  # the hosts that failed in the previous batch
        upcoming: asyncio.Future[Claimed | None] | None = None
        sending: asyncio.Future[list[Attempt]] | None = None
        try:
            batch = await claimed()
            while batch is not None:
                if recording is not None and failing & batch.hosts():
                    await recording
                    await in_db(_hold_back, session, batch, failing)
                if time.monotonic() - batch.at > RENEW_AFTER:
                    await in_db(_renew, session, batch)
                    batch.signing = start_signing(batch.posts, batch.keys) if batch.posts else None
                total += len(batch.rows)
                sending = None
                if batch.posts:
                    sending = asyncio.ensure_future(send_all(batch.posts, batch.keys, poster, batch.signing))
                upcoming = asyncio.ensure_future(claimed(after=recording))
                attempts = await sending if sending is not None else []
                following = await upcoming
                hosts = {post.id: post.host for post in batch.posts}  # not the rows: the database thread has them now
                failing = {hosts[attempt.delivery_id] for attempt in attempts if not _took(attempt)}
                recording = in_db(record_outcomes, session, batch, attempts, give_up_after)
                batch = following
                if batch is None:  # outcomes can make rows due (a host that answers again): look once more
                    batch = await claimed(after=recording)
                    recording = None
        finally:
            for pending in (sending, upcoming, recording):
                if pending is not None and not pending.done():
                    pending.cancel()
    return total


def _took(attempt: Attempt) -> bool:
    return attempt.status is not None and 200 <= attempt.status < 300
