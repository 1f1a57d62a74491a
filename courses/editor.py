"""The organizer's editor as services: create a course, change fields, add/reorder/delete units, publish."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from courses import fields, versions
from courses.handles import handle_taken, slugify
from courses.licenses import check_license
from courses.merge_tags import body_problem
from courses.models import Course, CourseVersion, Unit
from server.floor.accounts import Account
from server.floor.errors import Invalid, NotFound

# Field → rule; group_by is checked against the questions after everything else.
RULES: dict[str, Any] = {
    "title": lambda v: fields.check_text(v, "title"),
    "summary": lambda v: fields.check_text(v, "summary", required=False, limit=5000),
    "language": fields.check_language,
    "license": check_license,
    "tags": fields.check_tags,
    "resources": fields.check_resources,
    "send_time": fields.check_send_time,
    "late_join": fields.check_late_join,
    "group_size": fields.check_group_size,
    "questions": fields.check_questions,
    "group_by": lambda v: v,
}


def _touch(course: Course) -> None:
    """Any edit makes the draft differ from the last published version until the next publish."""
    course.draft_changed = True


def create_course(session: Session, slug: str, title: str, owner: Account | None = None, **values: Any) -> Course:
    """A new draft course; `values` are any editable fields."""
    fields.check_slug(slug)
    if handle_taken(session, slug):
        raise Invalid(f"slug {slug} is taken by a course, person, run or group")
    course = Course(slug=slug, title=fields.check_text(title, "title"), owner_id=owner.id if owner else None)
    session.add(course)
    update_course(session, course, **values)
    session.flush()
    return course


def update_course(session: Session, course: Course, **values: Any) -> Course:
    """Change fields of the draft (each checked; Invalid names the field)."""
    for name in values:
        if name not in RULES:
            raise Invalid(f"{name} is not an editable course field ({', '.join(sorted(RULES))})")
    checked = {name: RULES[name](value) for name, value in values.items()}
    questions = checked.get("questions", course.questions or [])
    if "group_by" in checked or "questions" in checked:
        checked["group_by"] = fields.check_group_by(checked.get("group_by", course.group_by), questions)
    for name, value in checked.items():
        setattr(course, name, value)
    if checked:
        _touch(course)
    session.flush()
    return course


def _check_unit(title: str, day: int, body: str) -> None:
    fields.check_text(title, "unit title")
    fields.check_day(day)
    problem = body_problem(body)
    if problem is not None:
        raise Invalid(f"body line {problem.line}: does not render: {problem.message}")


def add_unit(
    session: Session,
    course: Course,
    title: str,
    day: int,
    body: str,
    slug: str | None = None,
    position: int | None = None,
) -> Unit:
    """Add a unit (at the end, or at `position`); its body must render in the sandbox."""
    _check_unit(title, day, body)
    unit_slug = fields.check_slug(slug or slugify(title)[:60], "unit slug")
    if any(u.slug == unit_slug for u in course.units):
        raise Invalid(f"unit slug {unit_slug} is used in this course already")
    unit = Unit(slug=unit_slug, title=title, day=day, body=body, extra={})
    index = len(course.units) if position is None else max(0, min(position, len(course.units)))
    course.units.insert(index, unit)
    _renumber(course)
    _touch(course)
    session.flush()
    return unit


def update_unit(
    session: Session, unit: Unit, title: str | None = None, day: int | None = None, body: str | None = None
) -> Unit:
    """Change a unit's title, day or body."""
    _check_unit(
        title if title is not None else unit.title,
        day if day is not None else unit.day,
        body if body is not None else unit.body,
    )
    unit.title = title if title is not None else unit.title
    unit.day = day if day is not None else unit.day
    unit.body = body if body is not None else unit.body
    _touch(unit.course)
    session.flush()
    return unit


def reorder_units(session: Session, course: Course, slugs: list[str]) -> list[Unit]:
    """Put the units in the order of `slugs` (every unit named exactly once)."""
    by_slug = {unit.slug: unit for unit in course.units}
    if sorted(slugs) != sorted(by_slug):
        raise Invalid(f"the new order must name each unit once: {', '.join(sorted(by_slug))}")
    for position, slug in enumerate(slugs):
        by_slug[slug].position = position
    course.units.sort(key=lambda unit: unit.position)
    _touch(course)
    session.flush()
    return list(course.units)


def delete_unit(session: Session, course: Course, slug: str) -> None:
    """Remove a unit from the draft (published versions keep it)."""
    unit = next((u for u in course.units if u.slug == slug), None)
    if unit is None:
        raise NotFound(f"course {course.slug} has no unit {slug}")
    course.units.remove(unit)
    _renumber(course)
    _touch(course)
    session.flush()


def _renumber(course: Course) -> None:
    for position, unit in enumerate(course.units):
        unit.position = position


def publish(session: Session, course: Course) -> CourseVersion:
    """Freeze the draft as a new version (runs created from now on pin it)."""
    return versions.publish(session, course)
