"""Delivery: one `Delivery` row per target inbox, written with its cause; a job POSTs them.

`enqueue(session, activity, sender, recipients)` does no I/O: recipients (actor ids, a local
actor's followers collection) become inboxes from the cache (`Follower`, `RemoteActor`), followers
collapse onto shared inboxes, and each inbox gets one row in the caller's transaction (one INSERT
for all of them). An actor not in the cache gets a row addressed to the actor itself; the worker
resolves it.

The `federation.deliver` job claims due rows, signs each POST with its sender's key and sends them
concurrently (at most PER_HOST at once per host; `federation.transport.sending`) with
`federation.transport.poster`, whose kept-alive connections serve every batch of the job's run; the
outcomes of a batch are written together (federation.transport.outcomes; federation.transport.hosts
keeps the hosts) while the next batch is sent (federation.transport.batches). Success
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
from federation.transport.batches import (  # noqa: F401 - ACTOR_TARGET, PER_HOST_BATCH: part of this API
    ACTOR_TARGET,
    BATCH,
    PER_HOST_BATCH,
    deliver_one,
    deliver_overlapped,
)
from federation.transport.hosts import (  # noqa: F401 - HOST_DOWN_AFTER, MIN_PROBE, ...: part of this API
    HOST_DOWN_AFTER,
    MIN_PROBE,
    PROBE_INTERVAL,
    delivery_host,
    host_answered,
    is_down,
    probe_delay,
)
from federation.transport.keys import is_local
from federation.transport.moderation import blocked_domains, is_blocked_in
from federation.transport.sending import CONCURRENCY, PER_HOST, new_poster, send_all  # noqa: F401 - part of this API
from server.floor import urls
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.db import is_postgres, session_factory
from server.floor.jobs import job, wake
from server.floor.queue import QUEUED

JOB = "federation.deliver"
PUBLIC = {"https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"}
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


def deliver_batch(session: Session, limit: int = BATCH, give_up_after: timedelta | None = None) -> int:
    """Claim, send and record one batch of due deliveries; how many rows were worked."""
    give_up_after = give_up_after or timedelta(days=get_settings().delivery_give_up_days)
    return deliver_one(session, limit, give_up_after)


@job(JOB, every=15)
def deliver_due() -> int:
    """Send every due delivery, batch after batch, each batch's outcomes recorded while the next one is
    sent (`federation.transport.batches`); connections are kept between batches. How many rows were worked."""
    give_up_after = timedelta(days=get_settings().delivery_give_up_days)
    session = session_factory()()
    runner, poster = asyncio.Runner(), new_poster()
    try:
        return runner.run(deliver_overlapped(session, poster, BATCH, give_up_after))
    finally:
        session.close()
        poster.close()
        runner.run(asyncio.sleep(0))  # let the closed connections' transports finish closing
        runner.close()
