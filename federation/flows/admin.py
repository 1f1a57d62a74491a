"""What the admin pages need from federation beyond `moderation`, `reports` and `cohorts`: pure DB functions.

- `block_domain` is `moderation.block_domain` plus the deliveries already queued for that domain:
  a block means no delivery from now on, not only for activities written after it.
- `retry_host_now` makes every waiting delivery of a host due at once (the admin's "retry now").
- `report_actors` names the remote actors a Flag report involves, so the admin can block them.
- `delivery_health` and `inbox_health` are aggregate reads (GROUP BY) for the queue-health page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from courses.models import Post
from federation.models import Delivery, DomainBlock, InboxActivity, RemoteActor, RemoteHost, Report
from federation.transport.keys import is_local
from federation.transport.moderation import block_domain as add_domain_block
from federation.transport.moderation import is_blocked_in
from server.floor.clock import now
from server.floor.errors import Invalid
from server.floor.queue import DONE, FAILED, QUEUED

STATES = (QUEUED, DONE, FAILED)
RECENT_ERRORS = 10
HOSTS_SHOWN = 100


@dataclass(frozen=True)
class DomainBlockOutcome:
    """A domain block made by an admin: the block and how many queued deliveries it cancelled."""

    block: DomainBlock
    cancelled: int


def block_domain(session: Session, domain: str, reason: str) -> DomainBlockOutcome:
    """Block `domain` (federation.transport.moderation) and fail its queued deliveries, so nothing more goes there."""
    block = add_domain_block(session, domain, reason.strip())
    queued_hosts = session.scalars(select(Delivery.host).where(Delivery.state == QUEUED).distinct())
    hosts = [host for host in queued_hosts if is_blocked_in(host, {block.domain})]
    cancelled = 0
    if hosts:
        result = session.execute(
            update(Delivery)
            .where(Delivery.state == QUEUED, Delivery.host.in_(hosts))
            .values(state=FAILED, locked_until=None, last_error=f"{block.domain} is blocked by the admin")
            .execution_options(synchronize_session=False)
        )
        cancelled = int(getattr(result, "rowcount", 0) or 0)
    return DomainBlockOutcome(block=block, cancelled=cancelled)


def domain_blocks(session: Session) -> list[DomainBlock]:
    """Every domain block, alphabetically."""
    return list(session.scalars(select(DomainBlock).order_by(DomainBlock.domain)))


def retry_host_now(session: Session, host: str) -> int:
    """Make every queued delivery of `host` due now; how many there are (Invalid for an unknown host)."""
    if session.get(RemoteHost, host) is None:
        raise Invalid(f"host {host!r} has no delivery record here")
    result = session.execute(
        update(Delivery)
        .where(Delivery.host == host, Delivery.state == QUEUED)
        .values(next_attempt_at=now(), locked_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def report_actors(session: Session, report: Report) -> list[str]:
    """The remote actors a report involves: the reporter, reported remote actors and authors of reported posts."""
    refs = [ref for ref in report.targets if isinstance(ref, str)]
    known = set(session.scalars(select(RemoteActor.ap_id).where(RemoteActor.ap_id.in_(refs)))) if refs else set()
    authors = (
        set(session.scalars(select(Post.author_actor).where(Post.ap_id.in_(refs), Post.author_actor.is_not(None))))
        if refs
        else set()
    )
    found: dict[str, None] = {}
    for actor in [report.reporter, *(ref for ref in refs if ref in known), *sorted(a for a in authors if a)]:
        if actor and not is_local(actor):
            found.setdefault(actor)
    return list(found)


@dataclass(frozen=True)
class UnavailableHost:
    """A remote host marked unavailable by delivery: since when, failures in a row, rows waiting."""

    host: str
    failures: int
    unavailable_since: datetime
    last_failure_at: datetime | None
    waiting: int


@dataclass(frozen=True)
class QueueHealth:
    """Counts by state of one queue table, its oldest due row and its latest errors."""

    counts: dict[str, int]
    oldest_due: datetime | None
    recent_errors: list[tuple[str, str, datetime]]  # (what, last error, next attempt or when received)


def _counts(session: Session, model: type[Delivery] | type[InboxActivity]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for state, number in session.execute(select(model.state, func.count()).group_by(model.state)):
        counts[state] = int(number)
    return counts


def _oldest_due(session: Session, model: type[Delivery] | type[InboxActivity]) -> datetime | None:
    return session.scalar(select(func.min(model.next_attempt_at)).where(model.state == QUEUED))


def delivery_health(session: Session) -> QueueHealth:
    """Outgoing deliveries: counts by state, the oldest queued row's due time, the latest errors."""
    errors = session.execute(
        select(Delivery.inbox, Delivery.last_error, Delivery.next_attempt_at)
        .where(Delivery.last_error.is_not(None), Delivery.state != DONE)
        .order_by(Delivery.id.desc())
        .limit(RECENT_ERRORS)
    )
    return QueueHealth(
        counts=_counts(session, Delivery),
        oldest_due=_oldest_due(session, Delivery),
        recent_errors=[(inbox, error or "", at) for inbox, error, at in errors],
    )


def inbox_health(session: Session) -> QueueHealth:
    """Inbox activities: counts by state, the oldest queued row's due time, the latest errors."""
    errors = session.execute(
        select(InboxActivity.type, InboxActivity.actor, InboxActivity.last_error, InboxActivity.received_at)
        .where(InboxActivity.last_error.is_not(None), InboxActivity.state != DONE)
        .order_by(InboxActivity.id.desc())
        .limit(RECENT_ERRORS)
    )
    return QueueHealth(
        counts=_counts(session, InboxActivity),
        oldest_due=_oldest_due(session, InboxActivity),
        recent_errors=[(f"{kind} from {actor}", error or "", at) for kind, actor, error, at in errors],
    )


def unavailable_hosts(session: Session) -> list[UnavailableHost]:
    """Hosts marked unavailable, longest down first, with how many deliveries wait for each."""
    hosts = list(
        session.scalars(
            select(RemoteHost)
            .where(RemoteHost.unavailable_since.is_not(None))
            .order_by(RemoteHost.unavailable_since)
            .limit(HOSTS_SHOWN)
        )
    )
    names = [host.host for host in hosts]
    waiting: dict[str, int] = {}
    if names:
        query = (
            select(Delivery.host, func.count())
            .where(Delivery.host.in_(names), Delivery.state == QUEUED)
            .group_by(Delivery.host)
        )
        waiting = {name: int(number) for name, number in session.execute(query)}
    return [
        UnavailableHost(
            host=host.host,
            failures=host.failures,
            unavailable_since=host.unavailable_since,  # type: ignore[arg-type]  # filtered: not None
            last_failure_at=host.last_failure_at,
            waiting=waiting.get(host.host, 0),
        )
        for host in hosts
    ]
