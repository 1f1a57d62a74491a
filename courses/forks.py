"""Forks of course templates: a local copy of another course with its provenance, and upstream pulls.

The federation package fetches a course from another instance and hands its snapshot here, in the
shape of `courses.versions.snapshot_of`, with provenance already filled in: `origin` (the id the
course was copied from), `lineage` (origin first, then the origin's origin...) and each unit's
`origin`. This module knows nothing of ActivityPub; it checks the data like an import, stores a
normal local course, publishes its first version (so it can be run at once) and announces
`course.forked`. A newer version of the origin is noted by `record_upstream` (Course.upstream_version);
`upstream_diff` shows what it changes and `pull_upstream` takes it into the draft only when asked —
nothing is merged silently. Fetching the upstream snapshot is the federation package's part.
"""

from __future__ import annotations

import difflib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses import fields
from courses.handles import free_handle, handle_taken
from courses.licenses import check_license
from courses.merge_tags import body_problem
from courses.models import Course, CourseFork, Unit
from courses.versions import publish
from server.floor.errors import Invalid
from server.floor.events import publish as publish_event
from server.floor.untrusted import check_depth

DIFFED_COURSE_FIELDS = ("title", "summary", "language", "license", "tags", "resources", "send_time", "late_join")


def _checked(snapshot: dict[str, Any], where: str) -> dict[str, Any]:
    """The snapshot's fields checked as an import would check them; Invalid names the field."""
    try:
        data = dict(snapshot)
        data["title"] = fields.check_text(snapshot.get("title"), "title")
        data["summary"] = fields.check_text(snapshot.get("summary", ""), "summary", required=False, limit=5000)
        data["language"] = fields.check_language(snapshot.get("language"))
        data["license"] = check_license(snapshot.get("license", ""))
        data["tags"] = fields.check_tags(snapshot.get("tags", []))
        data["resources"] = fields.check_resources(snapshot.get("resources", []))
        data["send_time"] = fields.check_send_time(snapshot.get("send_time"))
        data["late_join"] = fields.check_late_join(snapshot.get("late_join"))
        data["group_size"] = fields.check_group_size(snapshot.get("group_size"))
        data["questions"] = fields.check_questions(snapshot.get("questions", []))
        data["group_by"] = fields.check_group_by(snapshot.get("group_by", []), data["questions"])
        # Provenance from another instance becomes links on our pages: http(s) URLs only.
        data["origin"] = fields.check_origin(snapshot.get("origin"))
        data["lineage"] = fields.check_lineage(snapshot.get("lineage") or [])
        check_depth(snapshot.get("extra") or {}, "extra")
        units = snapshot.get("units") or []
        if not units:
            raise Invalid("units: a course needs at least one unit")
        seen: set[str] = set()
        data["units"] = []
        for index, unit in enumerate(units):
            slug = fields.check_slug(unit.get("slug"), f"units[{index}].slug")
            if slug in seen:
                raise Invalid(f"units[{index}].slug {slug!r} is used twice")
            seen.add(slug)
            day = fields.check_day(unit.get("day"), f"units[{index}].day")
            problem = body_problem(unit.get("body", ""))
            if problem is not None:
                raise Invalid(f"units[{index}] ({slug}) body line {problem.line}: {problem.message}")
            title = fields.check_text(unit.get("title"), f"units[{index}].title")
            origin = fields.check_origin(unit.get("origin"), f"units[{index}].origin")
            data["units"].append({**unit, "title": title, "day": day, "origin": origin})
    except Invalid as error:
        raise Invalid(f"{where}: {error}") from None
    return data


def create_fork(
    session: Session,
    snapshot: dict[str, Any],
    origin_version: int | None,
    slug: str | None = None,
    owner_id: int | None = None,
) -> Course:
    """A local course copied from `snapshot` (provenance filled in), published as version 1."""
    origin = snapshot.get("origin")
    if not origin:
        raise Invalid("a fork needs the id of the course it was copied from (origin)")
    data = _checked(snapshot, origin)
    if slug is not None:
        fields.check_slug(slug, "--slug")
        if handle_taken(session, slug):
            raise Invalid(f"--slug {slug!r} is already the handle of a course, run, group or person here")
    else:
        slug = free_handle(session, str(snapshot.get("slug") or data["title"]))
    course = Course(
        slug=slug,
        title=data["title"],
        summary=data["summary"],
        language=data["language"],
        license=data["license"],
        tags=data["tags"],
        resources=data["resources"],
        send_time=data["send_time"],
        late_join=data["late_join"],
        group_size=data["group_size"],
        group_by=data["group_by"],
        questions=data["questions"],
        extra=dict(data.get("extra") or {}),
        owner_id=owner_id,
        origin=origin,
        origin_version=origin_version,
        lineage=list(data.get("lineage") or [origin]),
        upstream_version=origin_version,
    )
    course.units = [_unit(unit, position) for position, unit in enumerate(data["units"])]
    session.add(course)
    session.flush()
    publish(session, course)
    publish_event(session, "course.forked", {"course_id": course.id})
    return course


def _unit(unit: dict[str, Any], position: int) -> Unit:
    return Unit(
        position=position,
        slug=unit["slug"],
        title=unit["title"],
        day=unit["day"],
        body=unit.get("body", ""),
        extra=dict(unit.get("extra") or {}),
        origin=unit.get("origin"),
    )


def find_by_origin(session: Session, origin: str) -> list[Course]:
    """The local courses forked directly from `origin`."""
    return list(session.scalars(select(Course).where(Course.origin == origin).order_by(Course.id)))


def record_fork(session: Session, course: Course, fork_id: str, name: str) -> CourseFork:
    """Remember that `fork_id` is a fork of local `course` (its `forks` collection); idempotent."""
    row = session.scalar(select(CourseFork).where(CourseFork.course_id == course.id, CourseFork.fork_id == fork_id))
    if row is None:
        row = CourseFork(course_id=course.id, fork_id=fork_id, name=name[:300])
        session.add(row)
        session.flush()
    return row


def forks_of(session: Session, course: Course) -> list[CourseFork]:
    """The known forks of `course`, newest first (ForgeFed orders them so)."""
    query = select(CourseFork).where(CourseFork.course_id == course.id).order_by(CourseFork.id.desc())
    return list(session.scalars(query))


def record_upstream(session: Session, course: Course, version: int) -> bool:
    """Note that the origin published `version`; False when it is not newer than what we knew."""
    if course.upstream_version is not None and version <= course.upstream_version:
        return False
    course.upstream_version = version
    session.flush()
    return True


def has_upstream_change(course: Course) -> bool:
    """True when the origin has published a version newer than the one this fork holds."""
    return course.upstream_version is not None and course.upstream_version > (course.origin_version or 0)


def _unit_text(unit: dict[str, Any]) -> list[str]:
    return [f"title: {unit['title']}\n", f"day: {unit['day']}\n", "\n", *_lines(unit.get("body", ""))]


def _lines(text: str) -> list[str]:
    return [line + "\n" for line in text.splitlines()]


def upstream_diff(course: Course, upstream: dict[str, Any]) -> str:
    """A unified diff from this course's draft to the `upstream` snapshot ('' when they agree)."""
    out: list[str] = []
    for name in DIFFED_COURSE_FIELDS:
        mine, new = [f"{getattr(course, name)!s}\n"], [f"{upstream.get(name)!s}\n"]
        out += difflib.unified_diff(mine, new, f"a/course/{name}", f"b/course/{name}")
    ours = {unit.slug: {"title": unit.title, "day": unit.day, "body": unit.body} for unit in course.units}
    theirs = {unit["slug"]: unit for unit in upstream.get("units", [])}
    for slug in [*ours, *[s for s in theirs if s not in ours]]:
        before = _unit_text(ours[slug]) if slug in ours else []
        after = _unit_text(theirs[slug]) if slug in theirs else []
        out += difflib.unified_diff(before, after, f"a/units/{slug}", f"b/units/{slug}")
    return "".join(out)


def pull_upstream(session: Session, course: Course, upstream: dict[str, Any], version: int) -> Course:
    """Take the `upstream` snapshot (the origin's `version`) into the draft, units matched by slug."""
    data = _checked(upstream, course.origin or course.slug)
    for name in DIFFED_COURSE_FIELDS:
        setattr(course, name, data[name])
    existing = {unit.slug: unit for unit in course.units}
    units = []
    for position, unit in enumerate(data["units"]):
        row = existing.get(unit["slug"]) or Unit(slug=unit["slug"])
        row.position, row.title, row.day, row.body = position, unit["title"], unit["day"], unit.get("body", "")
        row.origin = unit.get("origin")
        units.append(row)
    course.units = units
    course.origin_version = version
    course.upstream_version = max(version, course.upstream_version or 0)
    course.draft_changed = True
    session.flush()
    return course
