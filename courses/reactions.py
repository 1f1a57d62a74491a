"""Event handlers and background jobs of the courses package."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from server.floor import jobs
from server.floor.events import subscribe


@jobs.job("courses.advance_runs", every=60)
def advance_runs_job() -> int:
    """Move runs through scheduled → open → running → finished; group at start; create recurring runs."""
    from courses.runs import advance_runs
    from server.floor.clock import now
    from server.floor.db import session_scope

    with session_scope() as session:
        return len(advance_runs(session, now()))


@jobs.job("courses.anonymise_finished_runs", every=24 * 3600)
def anonymise_job() -> int:
    """Tell, then forget, the learners of runs finished longer ago than MECHMOOC_ANONYMISE_AFTER_DAYS, each run
    in its own transaction (failures are logged and counted, the other runs go on); the runs anonymised."""
    from courses.privacy import retention_pass

    return len(retention_pass().anonymised)


def on_course_published(session: Session, payload: dict[str, Any]) -> None:
    """A new version: recurring runs created ahead that have not started follow it."""
    from courses.models import Course
    from courses.runs import follow_new_version
    from server.floor.clock import now

    course = session.get(Course, int(payload["course_id"]))
    if course is not None:
        follow_new_version(session, course, now())


def register() -> None:
    """Subscribe this package's handlers and declare its jobs (declared above, on import)."""
    subscribe("course.published", on_course_published)
    from courses import news

    subscribe("course.published", news.on_course_published)  # a status of the course for its followers
    subscribe("run.created", news.on_run_created)
    from courses.unit_notices import on_unit_emailed

    subscribe("unit.emailed", on_unit_emailed)
