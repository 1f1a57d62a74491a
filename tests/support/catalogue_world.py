"""A catalogue of any size for page tests and benchmarks: courses with versions, runs, learners.

`build_catalogue(session, courses, runs_per_course, learners)` makes `courses` copies of the
gentle-python fixture (slugs course-000, course-001, ...), each published twice, with
`runs_per_course` upcoming runs each, and `learners` confirmed learners spread over the runs (a
plain bulk insert: the shape of the data matters here, not the path that put it there).
tests/web/test_query_counts.py uses it small; bench/pages.py at 200 courses, 2,000 runs, 100,000.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from courses.course_file import parse_course
from courses.folder import apply_document, read_source
from courses.models import Course, Enrollment
from courses.runs import create_run
from courses.versions import publish
from server.floor.clock import now

GENTLE = Path(__file__).parents[1] / "fixtures" / "courses" / "gentle-python"
ZONES = ("Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC")


@dataclass
class Catalogue:
    """What a page test needs: a course slug and a run handle in the middle of the catalogue."""

    course: str
    run: str


def build_catalogue(
    session: Session, courses: int, runs_per_course: int, learners: int, prefix: str = "course"
) -> Catalogue:
    """Courses, runs and learners as described above, flushed in `session` (the caller commits); a
    second catalogue in the same database takes another `prefix` (slugs and addresses)."""
    document = parse_course(read_source(GENTLE))
    first = (now() + timedelta(days=14)).date()
    run_ids: list[int] = []
    handles: list[str] = []
    for n in range(courses):
        copy = dataclasses.replace(document, slug=f"{prefix}-{n:03d}", title=f"Course {n}: {document.title}")
        course = Course(slug=copy.slug, title=copy.title)
        session.add(course)
        apply_document(session, course, copy)
        session.flush()
        publish(session, course)
        course.draft_changed = True
        publish(session, course)  # two versions, as a course that was revised
        for k in range(runs_per_course):
            run = create_run(session, course, first + timedelta(days=7 * k + n % 7), ZONES[k % len(ZONES)])
            run_ids.append(run.id)
            handles.append(run.handle)
    _enroll(session, run_ids, learners, prefix)
    middle = courses // 2
    return Catalogue(course=f"{prefix}-{middle:03d}", run=handles[len(handles) // 2])


def _enroll(session: Session, run_ids: list[int], learners: int, prefix: str, batch: int = 5000) -> None:
    at = now()
    for start in range(0, learners, batch):
        rows = [
            {"run_id": run_ids[i % len(run_ids)], "email": f"{prefix}{i}@example.org", "name": f"Learner {i}",
             "timezone": ZONES[i % len(ZONES)], "language": "en", "answers": {}, "solo": False,
             "token": secrets.token_urlsafe(24), "status": "confirmed", "confirmed_at": at, "next_position": 0,
             "created_at": at}
            for i in range(start, min(learners, start + batch))
        ]  # fmt: skip
        session.execute(insert(Enrollment), rows)
