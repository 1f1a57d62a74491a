"""Versions of a course template: publishing freezes a snapshot; a run pins the one it started with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Course, CourseVersion, Run
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound
from server.floor.events import publish as publish_event

COURSE_FIELDS = (
    "slug",
    "title",
    "summary",
    "language",
    "license",
    "tags",
    "resources",
    "send_time",
    "late_join",
    "group_size",
    "group_by",
    "questions",
    "extra",
    "origin",
    "lineage",
)
UNIT_FIELDS = ("slug", "title", "day", "body", "position", "origin", "extra")


def snapshot_of(course: Course) -> dict[str, Any]:
    """The course's draft as plain data: its fields and its units in order."""
    data: dict[str, Any] = {name: getattr(course, name) for name in COURSE_FIELDS}
    data["units"] = [{name: getattr(unit, name) for name in UNIT_FIELDS} for unit in course.units]
    return data


def public_snapshot(course: Course) -> dict[str, Any]:
    """The course as the public sees it: its current published version, the draft if never published."""
    return dict(course.versions[-1].snapshot) if course.versions else snapshot_of(course)


def publish(session: Session, course: Course) -> CourseVersion:
    """Freeze the draft as the next version and tell the packages that care."""
    if not course.units:
        raise Invalid(f"course {course.slug} has no units to publish")
    number = (course.current_version or 0) + 1
    version = CourseVersion(course_id=course.id, number=number, snapshot=snapshot_of(course), published_at=now())
    session.add(version)
    course.current_version = number
    course.draft_changed = False
    session.flush()
    publish_event(session, "course.published", {"course_id": course.id, "version": number})
    return version


def get_version(session: Session, course_id: int, number: int) -> CourseVersion:
    """One published version of a course (read once per session: a published version never changes)."""
    # A run page asked for its pinned version six times (the facts, signup times, the form), each a
    # SELECT and a decode of the whole snapshot, units' text included.
    known: dict[tuple[int, int], CourseVersion] = session.info.setdefault("course_versions", {})
    version = known.get((course_id, number))
    if version is None:
        version = session.scalar(
            select(CourseVersion).where(CourseVersion.course_id == course_id, CourseVersion.number == number)
        )
        if version is None:
            raise NotFound(f"course {course_id} has no version {number}")
        known[(course_id, number)] = version
    return version


def pinned(session: Session, run: Run) -> dict[str, Any]:
    """The snapshot of the version `run` pinned when it was created (units included)."""
    return get_version(session, run.course_id, run.version_number).snapshot
