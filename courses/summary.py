"""A run as plain data for `run show` and the organizer's pages: course, start, learners, groups."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.grouping import utc_offset
from courses.models import Enrollment, Run, StudyGroup
from courses.zones import local_midnight, offset_span
from server.floor import urls


def zone_span(run: Run, zones: Iterable[str]) -> str:
    """The UTC offsets `zones` span at the run's start, as grouping compares them: "UTC−5 to UTC−3"."""
    start = local_midnight(run.start_date, run.timezone)
    return offset_span(utc_offset(zone, start) for zone in zones)


def run_summary(session: Session, run: Run, with_learners: bool = True) -> dict[str, Any]:
    """The run, its counts by status and its groups with address and members (emails if `with_learners`)."""
    columns = (Enrollment.id, Enrollment.email, Enrollment.actor, Enrollment.name, Enrollment.timezone)
    rows = session.execute(
        select(*columns, Enrollment.language, Enrollment.status, Enrollment.group_id, Enrollment.solo)
        .where(Enrollment.run_id == run.id)
        .order_by(Enrollment.id)
    ).all()
    statuses = Counter(row.status for row in rows)
    members: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.group_id is not None and row.status in ("confirmed", "paused"):
            member = {"name": row.name, "timezone": row.timezone, "language": row.language}
            if with_learners:
                member["email" if row.email else "actor"] = row.email or row.actor
            members[row.group_id].append(member)
    # A group merged into another is only a forwarding address now: not listed.
    current = (StudyGroup.run_id == run.id, StudyGroup.merged_into_id.is_(None))
    groups = session.scalars(select(StudyGroup).where(*current).order_by(StudyGroup.number))

    def span(group: StudyGroup) -> str:
        return zone_span(run, {member["timezone"] for member in members.get(group.id, [])} or {group.timezone})

    return {
        "id": urls.run(run.handle),
        "handle": run.handle,
        "course": run.course.slug,
        "course_id": urls.course(run.course.slug),
        "title": run.course.title,
        "version": run.version_number,
        "start": run.start_date.isoformat(),
        "timezone": run.timezone,
        "status": run.status,
        "every_weeks": run.every_weeks,
        "capacity": run.capacity,
        "group_size": run.group_size,
        "learners": statuses["confirmed"] + statuses["paused"],
        "pending": statuses["pending"],
        "waitlisted": statuses["waitlisted"],
        "solo": sum(1 for row in rows if row.solo and row.status in ("confirmed", "paused")),
        "groups": [
            {
                "handle": group.handle,
                "id": urls.group(group.handle),
                "address": urls.group_address(group.handle),
                "name": group.name,
                "timezone": group.timezone,
                "zones": span(group),
                "language": group.language,
                "members": members.get(group.id, []),
                "closed": group.closed_at is not None,
            }
            for group in groups
        ],
    }
