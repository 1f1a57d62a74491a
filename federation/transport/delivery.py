"""Delivery: one `Delivery` row per target inbox, written with its cause; a job POSTs them.

`enqueue(session, activity, sender, recipients)` does no I/O: recipients (actor ids, a local
actor's followers collection) become inboxes from the cache (`Follower`, `RemoteActor`), followers
collapse onto shared inboxes, and each inbox gets one row in the caller's transaction (one INSERT
for all of them). An actor not in the cache gets a row addressed to the actor itself; the worker
resolves it.

The `federation.deliver` job claims due rows, signs each POST with its sender's key and sends them
concurrently (at most PER_HOST at once per host) with `federation.transport.poster`, whose
kept-alive connections serve every batch of the job's run; the outcomes of a batch are written
together (federation.transport.outcomes; federation.transport.hosts keeps the hosts). Success
marks the row done; 4xx other than 401/408/429 is final; anything else retries with exponential
backoff, or the host's Retry-After if longer, until the row is MECHMOOC_DELIVERY_GIVE_UP_DAYS
(default 4) old. A host is judged by time, not by a count: one that has failed at least
HOST_DOWN_AFTER times in a row over at least DOWN_AFTER (a few minutes: a restart or a short outage
never counts) is marked unavailable. Its rows then wait for a probe, spaced by half of how long it
has been failing (from MIN_PROBE up to PROBE_INTERVAL, an hour), and when it answers again (a
delivery succeeds, or it sends us an activity) every waiting row is due at once. Local actors named
as recipients are skipped: the in-process flows (federation.flows.cohorts, federation.flows.posting)
deliver to them directly.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, Table, Text, bindparam, event, func, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from federation.models import ActorBlock, Delivery, Follower, RemoteActor
from federation.protocol.crypto import SigningKey
from federation.transport import fetch
from federation.transport.fetch import USER_AGENT, FetchError, store_actor
from federation.transport.guard import Refused
from federation.transport.hosts import (  # noqa: F401 - HOST_DOWN_AFTER, MIN_PROBE, ...: part of this API
    HOST_DOWN_AFTER,
    MIN_PROBE,
    PROBE_INTERVAL,
    delivery_host,
    host_answered,
    is_down,
    probe_delay,
)
from federation.transport.keys import instance_signing_key, is_local, signing_key
from federation.transport.moderation import blocked_domains, is_blocked, is_blocked_in
from federation.transport.outcomes import Attempt, record, record_batch, retry_after
from federation.transport.poster import Poster, PostError
from federation.transport.presign import Signed, sign_ahead
from server.floor import urls
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.db import is_postgres, session_factory
from server.floor.jobs import job, wake
from server.floor.queue import QUEUED, claim, fail, succeed

JOB = "federation.deliver"
PUBLIC = {"https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"}
ACTOR_TARGET = "actor:"  # prefix of a row's inbox while the recipient actor is not resolved yet
CONTENT_TYPE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
PER_HOST = 4
PER_HOST_BATCH = 40  # 40 / PER_HOST x the 15 s timeout stays well inside claim()'s 5-minute lease
CONCURRENCY = 64
BATCH = 500
CONNECT_TIMEOUT = 5.0
Written = Row[tuple[int, str]]  # a delivery row enqueued: its id and inbox


def _follower_inboxes(session: Session, owner: str, blockers: set[str]) -> list[str]:
    """The distinct inboxes of a local actor's followers (shared ones when known), but those blocking us."""
    # Collapsed by the database: a course's 10,000 followers on 200 servers come back as 200 rows.
    target = func.coalesce(func.nullif(Follower.shared_inbox, ""), Follower.inbox)
    query = select(target).where(Follower.actor == owner, Follower.inbox.is_not(None), Follower.inbox != "")
    if blockers:
        query = query.where(Follower.follower.not_in(blockers))
    return list(session.scalars(query.group_by(target)))


def _target_rows(session: Session, recipient: str, sender: str) -> list[tuple[str, str]]:
    """(inbox, actor) pairs for one recipient that is not a local followers collection."""
    if recipient in PUBLIC:
        return []
    if is_local(recipient) or recipient == sender:
        return []  # local actors read our own rows; the other engineer's flows handle them in-process
    cached = session.scalar(select(RemoteActor).where(RemoteActor.ap_id == recipient))
    if cached is None:
        return [(ACTOR_TARGET + recipient, recipient)]
    return [(cached.shared_inbox or cached.inbox, recipient)]


def inboxes_for(session: Session, sender: str, recipients: list[str]) -> list[str]:
    """The distinct target inboxes of `recipients`, without blocked domains or actors blocking `sender`."""
    blockers = set(session.scalars(select(ActorBlock.blocker).where(ActorBlock.blocked == sender)))
    blockers |= set(session.scalars(select(ActorBlock.blocked).where(ActorBlock.blocker == urls.instance_actor())))
    found: dict[str, None] = {}
    for recipient in recipients:
        if is_local(recipient) and recipient.endswith("/followers"):
            found.update(dict.fromkeys(_follower_inboxes(session, recipient.removesuffix("/followers"), blockers)))
            continue
        for inbox, actor in _target_rows(session, recipient, sender):
            if actor in blockers:
                continue
            found.setdefault(inbox)
    domains = blocked_domains(session)
    return [inbox for inbox in found if not is_blocked_in(inbox.removeprefix(ACTOR_TARGET), domains)]


def enqueue(session: Session, activity: dict[str, Any], sender: str, recipients: list[str]) -> list[Written]:
    """Write one Delivery row per target inbox of `activity` in the caller's transaction."""
    activity_id = activity.get("id")
    if not isinstance(activity_id, str) or not is_local(sender):
        raise ValueError(f"an activity to deliver needs an id and a local sender (got {activity_id!r}, {sender})")
    if "@context" not in activity:
        activity = {"@context": "https://www.w3.org/ns/activitystreams", **activity}
    body = json.dumps(activity, separators=(",", ":"), ensure_ascii=False)
    existing = set(session.scalars(select(Delivery.inbox).where(Delivery.activity_id == activity_id)))
    inboxes = [inbox for inbox in inboxes_for(session, sender, recipients) if inbox not in existing]
    return _write_rows(session, activity_id, sender, body, inboxes)


def enqueue_to_inboxes(session: Session, activity: dict[str, Any], sender: str, inboxes: list[str]) -> list[Written]:
    """Like `enqueue`, to inboxes known already (those an earlier activity reached: a Delete follows its Create)."""
    activity_id = activity.get("id")
    if not isinstance(activity_id, str) or not is_local(sender):
        raise ValueError(f"an activity to deliver needs an id and a local sender (got {activity_id!r}, {sender})")
    body = json.dumps(activity, separators=(",", ":"), ensure_ascii=False)
    existing = set(session.scalars(select(Delivery.inbox).where(Delivery.activity_id == activity_id)))
    domains = blocked_domains(session)
    inboxes = [
        inbox
        for inbox in dict.fromkeys(inboxes)
        if inbox not in existing and not is_blocked_in(inbox.removeprefix(ACTOR_TARGET), domains)
    ]
    return _write_rows(session, activity_id, sender, body, inboxes)


def _write_rows(session: Session, activity_id: str, sender: str, body: str, inboxes: list[str]) -> list[Written]:
    """Insert one row per inbox by one Core statement (no ORM object per row); their ids and inboxes."""
    if not inboxes:
        return []
    table: Table = Delivery.__table__  # type: ignore[assignment]
    at = now()
    hosts = [delivery_host(inbox.removeprefix(ACTOR_TARGET)) for inbox in inboxes]
    same = {"activity_id": activity_id, "sender": sender, "body": body, "created_at": at, "next_attempt_at": at}
    same |= {"state": QUEUED, "attempts": 0}
    returning = (table.c.id, table.c.inbox)
    if is_postgres(session):  # one statement with the body once and the inboxes as two array parameters
        targets = func.unnest(
            bindparam("inboxes", inboxes, type_=ARRAY(Text)), bindparam("hosts", hosts, type_=ARRAY(Text))
        )
        each = targets.table_valued("inbox", "host").render_derived()
        values = [literal(value, table.c[name].type) for name, value in same.items()]
        query = select(*values, each.c.inbox, each.c.host)
        statement = insert(table).from_select([*same, "inbox", "host"], query, include_defaults=False)
        written = list(session.execute(statement.returning(*returning)))
    else:
        rows = [same | {"inbox": inbox, "host": host} for inbox, host in zip(inboxes, hosts, strict=True)]
        written = list(session.execute(insert(table).returning(*returning), rows))
    _wake_after_commit(session)
    return written  # type: ignore[return-value]


def _wake_after_commit(session: Session) -> None:
    if not session.info.get("federation_wake"):
        session.info["federation_wake"] = True

        @event.listens_for(session, "after_commit", once=True)
        def _wake(_session: Session) -> None:
            session.info.pop("federation_wake", None)
            wake(JOB)


def _headers() -> dict[str, str]:
    return {
        "Content-Type": CONTENT_TYPE,
        "Accept": "application/activity+json",
        "User-Agent": USER_AGENT.format(url=get_settings().url),
    }


async def _post(
    poster: Poster, limit: asyncio.Semaphore, row: Delivery, signing: asyncio.Future[Signed], headers: dict[str, str]
) -> Attempt:
    deadline = get_settings().fetch_deadline
    async with limit:
        try:
            # The whole POST, answer included, within the deadline: per-read timeouts alone let a
            # server that drips a byte every few seconds hold a worker (and its host's slot) for ever.
            async with asyncio.timeout(deadline):
                signed = (await signing)[row.id]
                answer = await poster.post(row.inbox, headers | signed, row.body.encode())
        except Refused as error:
            return Attempt(row.id, 0, str(error))
        except PostError as error:
            return Attempt(row.id, None, str(error))
        except TimeoutError:
            return Attempt(row.id, None, f"no complete answer within {deadline:g} s")
        return Attempt(row.id, answer.status, "", retry_after(answer.retry_after, now()))


def new_poster() -> Poster:
    """The delivery client: its every connection passes the SSRF guard."""
    return Poster(allow_private=get_settings().insecure_http, connect_timeout=CONNECT_TIMEOUT)


async def send_all(rows: list[Delivery], keys: dict[str, SigningKey], poster: Poster | None = None) -> list[Attempt]:
    """POST every row concurrently, at most PER_HOST at once per host and CONCURRENCY in all.

    `poster` keeps its connections for the next call (within the same event loop); without one, a
    client for this call alone is made and closed."""
    per_host: dict[str, asyncio.Semaphore] = {}
    client = poster or new_poster()
    headers = _headers()
    signing = sign_ahead(rows, keys, headers)  # in threads, while the first POSTs go out
    waiting = iter(rows)  # shared: each row is taken by one sender, in the batch's order
    attempts: dict[int, Attempt] = {}

    async def sender() -> None:
        # CONCURRENCY senders, not a task per row: at most CONCURRENCY POSTs at once (a sender
        # waiting for its row's host holds its place, as a task holding a semaphore did).
        for row in waiting:
            limit = per_host.setdefault(row.host, asyncio.Semaphore(PER_HOST))
            attempts[row.id] = await _post(client, limit, row, signing[row.id], headers)

    try:
        await asyncio.gather(*(sender() for _ in range(min(CONCURRENCY, len(rows)))))
        return [attempts[row.id] for row in rows]
    finally:
        if poster is None:
            client.close()


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


def deliver_batch(
    session: Session,
    limit: int = BATCH,
    give_up_after: timedelta | None = None,
    sending: tuple[asyncio.Runner, Poster] | None = None,
) -> int:
    """Claim and send one batch of due deliveries; how many rows were worked.

    `sending`, an event loop and a client living across batches, keeps connections open from one
    batch to the next (`deliver_due` passes one); without it the batch has its own."""
    give_up_after = give_up_after or timedelta(days=get_settings().delivery_give_up_days)
    rows = _within_lease(session, claim(session, Delivery, limit=limit))
    if not rows:
        return 0
    ready = _resolve_actor_rows(session, rows, give_up_after)
    keys = {sender: signing_key(session, sender) for sender in {row.sender for row in ready}}
    session.commit()  # keys made lazily must be stored before anyone sees our signatures
    if not ready:
        attempts = []
    elif sending is None:
        attempts = asyncio.run(send_all(ready, keys))
    else:
        attempts = sending[0].run(send_all(ready, keys, sending[1]))
    record_batch(session, {row.id: row for row in ready}, attempts, now(), give_up_after)
    session.commit()
    return len(rows)


@job(JOB, every=15)
def deliver_due() -> int:
    """Send every due delivery, batch after batch; how many rows were worked."""
    total = 0
    session = session_factory()()
    runner, poster = asyncio.Runner(), new_poster()
    try:
        while worked := deliver_batch(session, sending=(runner, poster)):
            total += worked
    finally:
        session.close()
        poster.close()
        runner.run(asyncio.sleep(0))  # let the closed connections' transports finish closing
        runner.close()
    return total
