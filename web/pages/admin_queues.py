"""The admin's queue health page: deliveries, inbox, mail outbox and the worker heartbeat at a glance.

Every number is an aggregate query (GROUP BY state, MIN of the due time); no queue is loaded row
by row. "Retry now" on an unavailable host makes its waiting deliveries due and wakes the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from federation.flows import admin as federation_admin
from federation.transport.delivery import JOB as DELIVERY_JOB
from mail.models import OutgoingMail
from server.floor.clock import now
from server.floor.db import session_scope, write_scope
from server.floor.heartbeat import STALE_AFTER, WorkerHeartbeat
from server.floor.jobs import wake
from server.floor.queue import DONE, FAILED, QUEUED
from web.auth import require_role
from web.csrf import posted_form
from web.flash import flash
from web.templating import render

PAGE = "/admin/queues"
WORKERS_SHOWN = 20
MAIL_WORDS = ("mail", "outbox")


@dataclass(frozen=True)
class WorkerView:
    """One worker's last heartbeat and whether it is presumed alive."""

    worker: str
    beat_at: datetime
    beats: int
    alive: bool


@dataclass(frozen=True)
class MailOutbox:
    """The mail outbox by state (the standard three first, then the mail package's own)."""

    counts: dict[str, int]
    oldest_due: datetime | None
    admin_path: str | None


def mail_outbox(session: Session) -> MailOutbox:
    """Mail outbox counts by state, the oldest queued mail's due time, and the mail admin page if any."""
    counts = dict.fromkeys((QUEUED, DONE, FAILED), 0)
    for state, number in session.execute(select(OutgoingMail.state, func.count()).group_by(OutgoingMail.state)):
        counts[state] = int(number)
    oldest = session.scalar(select(func.min(OutgoingMail.next_attempt_at)).where(OutgoingMail.state == QUEUED))
    return MailOutbox(counts=counts, oldest_due=oldest, admin_path=mail_admin_path())


def mail_admin_path() -> str | None:
    """The mail engineer's admin page, when it is listed among the admin sections."""
    from web.pages.admin import SECTIONS  # read at request time: other modules may extend SECTIONS

    for section in SECTIONS:
        if section.path.startswith("/admin/") and any(word in section.path for word in MAIL_WORDS):
            return section.path
    return None


def workers(session: Session, at: datetime) -> list[WorkerView]:
    """The workers heard from lately, most recent first."""
    rows = session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.beat_at.desc()).limit(WORKERS_SHOWN))
    return [WorkerView(row.worker, row.beat_at, row.beats, at - row.beat_at <= STALE_AFTER) for row in rows]


@require_role("admin")
def queues_page(request: Request) -> Response:
    """Counts by state of every queue, unavailable hosts, latest errors, worker heartbeats."""
    at = now()
    with session_scope() as db:
        context = {
            "now": at,
            "deliveries": federation_admin.delivery_health(db),
            "hosts": federation_admin.unavailable_hosts(db),
            "inbox": federation_admin.inbox_health(db),
            "mail": mail_outbox(db),
            "workers": workers(db, at),
        }
    return render(request, "admin/queues/index.html", context)


@require_role("admin")
def retry_host(request: Request) -> Response:
    """Make an unavailable host's waiting deliveries due now and wake the delivery worker."""
    host = str(posted_form(request).get("host", "")).strip()
    with write_scope() as db:
        due = federation_admin.retry_host_now(db, host)
    wake(DELIVERY_JOB)
    flash(request, f"{due} deliveries to {host} will be retried now.", "success")
    return RedirectResponse(PAGE, status_code=303)


def routes() -> list[BaseRoute]:
    """The queue health page."""
    return [
        Route(PAGE, queues_page, methods=["GET"], name="admin_queues"),
        Route(f"{PAGE}/hosts/retry", retry_host, methods=["POST"]),
    ]
