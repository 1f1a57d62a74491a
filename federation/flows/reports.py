"""The moderation queue: `Flag` reports received from other servers, for the admin to resolve.

The protocol's Flag handler stores each report as a `Report` row; the web's admin page lists
`open_reports` and calls `resolve_report` (with what was done: "blocked domain", "removed member",
"no action"). Blocking and removal themselves are `federation.transport.moderation` and `federation.flows.cohorts`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation.models import Report
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound


def open_reports(session: Session) -> list[Report]:
    """Reports not yet resolved, oldest first."""
    return list(session.scalars(select(Report).where(Report.resolved_at.is_(None)).order_by(Report.id)))


def resolved_reports(session: Session, limit: int = 100) -> list[Report]:
    """The most recently resolved reports, newest first."""
    query = select(Report).where(Report.resolved_at.is_not(None)).order_by(Report.resolved_at.desc()).limit(limit)
    return list(session.scalars(query))


def resolve_report(session: Session, report_id: int, resolution: str) -> Report:
    """Close a report with a short note of what was done."""
    if not resolution.strip():
        raise Invalid("resolution must say what was done (e.g. 'blocked domain', 'no action')")
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(f"no report {report_id}")
    report.resolved_at, report.resolution = now(), resolution.strip()[:200]
    session.flush()
    return report
