"""Remote hosts' availability for deliveries: failures in a row, unavailable hosts and their probes.

A host is judged by time, not by a count: one that has failed at least HOST_DOWN_AFTER times in a
row over at least DOWN_AFTER is unavailable; its rows then wait for a probe spaced by half of how
long it has been failing (MIN_PROBE up to PROBE_INTERVAL), and when it answers again every waiting
row is due at once (`host_answered`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from sqlalchemy import Text, bindparam, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from federation.models import Delivery, RemoteHost
from server.floor.clock import now
from server.floor.db import UTCDateTime, is_postgres, upsert_insert
from server.floor.queue import QUEUED

HOST_DOWN_AFTER = 8
DOWN_AFTER = timedelta(minutes=5)
MIN_PROBE = timedelta(minutes=1)
PROBE_INTERVAL = timedelta(hours=1)


@lru_cache(maxsize=8192)  # a fan-out names the same inboxes every time
def delivery_host(inbox: str) -> str:
    """What concurrency limits and availability are counted against: the inbox's host[:port]."""
    return urlsplit(inbox).netloc.lower()


def load_hosts(session: Session, names: set[str]) -> dict[str, RemoteHost]:
    """Make sure each host has its row (another worker may be adding the same) and load them all."""
    if not names:
        return {}
    session.execute(
        upsert_insert(session, RemoteHost).values([{"host": n, "failures": 0} for n in names]).on_conflict_do_nothing()
    )
    # Held in a dict: the session's identity map keeps objects only weakly, and a host looked up
    # again once per recorded row cost a SELECT (and an autoflush) each.
    return {row.host: row for row in session.scalars(select(RemoteHost).where(RemoteHost.host.in_(names)))}


def host_row(session: Session, name: str, hosts: dict[str, RemoteHost] | None = None) -> RemoteHost:
    """The host's row: from `hosts` (this batch's), the session, or made now."""
    row = (hosts or {}).get(name) or session.get(RemoteHost, name)
    if row is None:
        row = load_hosts(session, {name})[name]
    return row


def host_answered(session: Session, name: str, hosts: dict[str, RemoteHost] | None = None) -> None:
    """A host is reachable again: forget its failures and make its waiting deliveries due now."""
    host = host_row(session, name, hosts)
    was_down = host.unavailable_since is not None
    host.failures, host.failing_since, host.unavailable_since, host.last_success_at = 0, None, None, now()
    if was_down:
        session.execute(
            update(Delivery)
            .where(Delivery.host == name, Delivery.state == QUEUED)
            .values(next_attempt_at=now())
            .execution_options(synchronize_session=False)
        )


def hosts_answered(session: Session, names: set[str], at: datetime) -> None:
    """`host_answered` for many hosts at once, in two statements whatever their number (a fan-out's
    batch reaches hundreds): the waiting rows of those that were unavailable are due now, then each
    host's row is made or reset."""
    if not names:
        return
    ordered = sorted(names)  # every worker locks host rows in the same order: no deadlock
    were_down = select(RemoteHost.host).where(RemoteHost.host.in_(ordered), RemoteHost.unavailable_since.isnot(None))
    session.execute(
        update(Delivery)
        .where(Delivery.host.in_(were_down.scalar_subquery()), Delivery.state == QUEUED)
        .values(next_attempt_at=at)
        .execution_options(synchronize_session=False)
    )
    reset = {"failures": 0, "failing_since": None, "unavailable_since": None, "last_success_at": at}
    insert = upsert_insert(session, RemoteHost)
    if is_postgres(session):  # the names as one array parameter, not one parameter each
        names_in = func.unnest(bindparam("names", ordered, type_=ARRAY(Text))).table_valued("name").render_derived()
        columns = [names_in.c.name, literal(0), literal(at, UTCDateTime())]
        insert = insert.from_select(["host", "failures", "last_success_at"], select(*columns))
    else:
        insert = insert.values([{"host": name, "failures": 0, "last_success_at": at} for name in ordered])
    session.execute(insert.on_conflict_do_update(index_elements=["host"], set_=reset))
    for name in ordered:  # hosts this session holds: as written
        held = session.identity_map.get(session.identity_key(RemoteHost, name))
        if held is not None:
            for column, value in reset.items():
                set_committed_value(held, column, value)


def is_down(host: RemoteHost, at: datetime) -> bool:
    """A host is unavailable when it has failed HOST_DOWN_AFTER times in a row over at least DOWN_AFTER."""
    failing_for = at - host.failing_since if host.failing_since else timedelta(0)
    return (host.failures or 0) >= HOST_DOWN_AFTER and failing_for >= DOWN_AFTER


def probe_delay(host: RemoteHost, at: datetime) -> timedelta:
    """How long an unavailable host's rows wait: half of how long it has failed, from a minute to an hour."""
    failing_for = at - (host.failing_since or host.unavailable_since or at)
    return min(PROBE_INTERVAL, max(MIN_PROBE, failing_for / 2))


def hold_down_hosts(session: Session, hosts: set[str], at: datetime) -> None:
    """Every waiting row of a host found unavailable waits for the next probe, not its own backoff."""
    session.flush()
    down = session.scalars(
        select(RemoteHost).where(RemoteHost.host.in_(hosts), RemoteHost.unavailable_since.isnot(None))
    )
    for host in down:
        probe_at = at + probe_delay(host, at)
        session.execute(
            update(Delivery)
            .where(Delivery.host == host.host, Delivery.state == QUEUED, Delivery.next_attempt_at < probe_at)
            .values(next_attempt_at=probe_at)
            .execution_options(synchronize_session=False)
        )
