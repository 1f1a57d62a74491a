"""Recording the outcome of each delivery POST on its row and on its host (`federation.transport.delivery`).

Success marks the row done; 4xx other than 401/408/429 is final; anything else retries with
exponential backoff, or the host's Retry-After if longer, until the row is give_up_after old, and
counts against the host (federation.transport.hosts judges when it is unavailable).

A batch's outcomes are written together (`record_batch`): the rows of hosts that answered every POST
of the batch with a 2xx — nearly all of a fan-out — are marked done by one UPDATE per status code and
their hosts reset by one upsert (`hosts.hosts_answered`), whatever their number; the rows of any host
with a failure in the batch go through `record`, one row at a time on the ORM objects, in the order
of the batch, exactly as before, and one flush writes them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy import BigInteger, Table, Text, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from federation.models import Delivery, RemoteHost
from federation.transport.hosts import (
    hold_down_hosts,
    host_answered,
    host_row,
    hosts_answered,
    is_down,
    load_hosts,
    probe_delay,
)
from server.floor.db import is_postgres
from server.floor.queue import DONE, backoff, fail, retry_later, succeed


@dataclass(frozen=True)
class Attempt:
    """The outcome of one POST: status (None on a network error), error text, Retry-After."""

    delivery_id: int
    status: int | None
    error: str = ""
    retry_after: timedelta | None = None


def retry_after(value: str | None, at: datetime) -> timedelta | None:
    """A Retry-After header (seconds or HTTP date) as a delay from `at`."""
    if not value:
        return None
    if value.strip().isdigit():
        return timedelta(seconds=int(value.strip()))
    try:
        instant = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(timedelta(0), instant - at) if instant.tzinfo else None


def _succeeded(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def record(
    session: Session,
    row: Delivery,
    attempt: Attempt,
    at: datetime,
    give_up_after: timedelta,
    hosts: dict[str, RemoteHost] | None = None,
) -> None:
    """Set one attempt's outcome on its row and host (the ORM objects; the caller flushes)."""
    row.status_code = attempt.status
    status = attempt.status  # None: a network error (host down, timeout) — worth retrying
    if _succeeded(status):
        succeed(row)
        row.delivered_at = at
        host_answered(session, row.host, hosts)
        return
    error = attempt.error or f"HTTP {status}"
    if status == 0 or (status is not None and 400 <= status < 500 and status not in {401, 408, 429}):
        fail(row, error)  # refused by our guard, or the receiver will never take it
        return
    host = host_row(session, row.host, hosts)
    host.failures, host.last_failure_at = (host.failures or 0) + 1, at
    host.failing_since = host.failing_since or at
    if is_down(host, at) and host.unavailable_since is None:
        host.unavailable_since = at
    if at - row.created_at >= give_up_after:
        fail(row, f"gave up after {give_up_after.days} days: {error}")
        return
    delay = max(backoff(row.attempts, base=30), attempt.retry_after or timedelta(0))
    if host.unavailable_since is not None:
        delay = max(delay, probe_delay(host, at))
    retry_later(row, error, delay, at=at)


def _mark_done(session: Session, rows: list[Delivery], status: int, at: datetime) -> None:
    """Mark `rows` delivered with `status` in one UPDATE, and their ORM objects as written."""
    table: Table = Delivery.__table__  # type: ignore[assignment]
    ids = [row.id for row in rows]
    done = {"state": DONE, "locked_until": None, "last_error": None, "status_code": status, "delivered_at": at}
    if is_postgres(session):  # the ids as one array parameter, not one parameter each
        which = table.c.id == bindparam("ids", ids, type_=ARRAY(BigInteger())).any_()  # type: ignore[attr-defined]
    else:
        which = table.c.id.in_(ids)
    session.execute(update(table).where(which).values(done))
    for row in rows:
        for column, value in done.items():
            set_committed_value(row, column, value)


def record_batch(
    session: Session, rows: dict[int, Delivery], attempts: list[Attempt], at: datetime, give_up_after: timedelta
) -> None:
    """Write every attempt's outcome (`rows` by id): set-wise for hosts that took all their POSTs,
    `record` for the others; then rows of hosts now unavailable wait for their probe. Not committed."""
    failing = {rows[attempt.delivery_id].host for attempt in attempts if not _succeeded(attempt.status)}
    done: dict[int, list[Delivery]] = defaultdict(list)
    answered: set[str] = set()
    one_by_one: list[Attempt] = []
    for attempt in attempts:
        row = rows[attempt.delivery_id]
        if row.host in failing:
            one_by_one.append(attempt)
        else:
            done[attempt.status or 0].append(row)
            answered.add(row.host)
    if answered and failing and is_postgres(session):
        # Both sets' host rows are written below, one set after the other: lock them all first, in
        # the order every worker uses, so two workers with the same hosts cannot deadlock.
        names = bindparam("names", sorted(answered | failing), type_=ARRAY(Text()))
        held = select(RemoteHost.host).where(RemoteHost.host == names.any_())  # type: ignore[attr-defined]
        session.execute(held.order_by(RemoteHost.host).with_for_update())
    for status, succeeded in done.items():
        _mark_done(session, succeeded, status, at)
    hosts_answered(session, answered, at)
    if not one_by_one:
        return
    hosts = load_hosts(session, failing)
    with session.no_autoflush:  # set on the objects, written by one flush
        for attempt in one_by_one:
            record(session, rows[attempt.delivery_id], attempt, at, give_up_after, hosts)
    hold_down_hosts(session, failing, at)
