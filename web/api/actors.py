"""Courses, runs and study groups as accounts: a course is a bot account, a run and a study group
are group accounts (profiles of kind course/run/group, `community.people.actor_profile`), made the
first time an app looks one up by its handle, with the URIs their ActivityPub actors already have."""

from __future__ import annotations

from html import escape

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community import people
from community.models import Profile
from courses.models import Course, Run, StudyGroup
from server.floor import urls
from server.floor.db import session_scope, write_scope


def local_by_username(db: Session, username: str) -> Profile | None:
    """The local profile called `username` (any kind), if it exists."""
    query = select(Profile).where(func.lower(Profile.username) == username.lower(), Profile.domain.is_(None))
    return db.scalars(query.limit(1)).first()


def ensure(db: Session, username: str) -> Profile | None:
    """The profile of the course, run or study group with this handle (made on first use), or None."""
    name = username.strip().lstrip("@").lower()
    if not name or len(name) > 64:
        return None
    found = local_by_username(db, name)
    if found is not None:
        return found
    course = db.scalar(select(Course).where(Course.slug == name))
    if course is not None:
        return people.actor_profile(
            db,
            uri=urls.course(course.slug),
            kind="course",
            username=course.slug,
            display_name=course.title,
            note=f"<p>{escape(course.summary)}</p>" if course.summary else "",
        )
    run = db.scalar(select(Run).where(Run.handle == name))
    if run is not None:
        title = run.course.title if run.course is not None else run.handle
        return people.actor_profile(
            db,
            uri=urls.run(run.handle),
            kind="run",
            username=run.handle,
            display_name=f"{title} ({run.start_date.isoformat()})",
        )
    group = db.scalar(select(StudyGroup).where(StudyGroup.handle == name))
    if group is not None:
        return people.actor_profile(
            db,
            uri=urls.group(group.handle),
            kind="group",
            username=group.handle,
            display_name=group.name or group.handle,
        )
    return None


def missing(db: Session, username: str) -> bool:
    """True when a course, run or study group has this handle but no profile yet (read only: callers
    take the write lock only then)."""
    name = username.strip().lstrip("@").lower()
    if not name or len(name) > 64 or local_by_username(db, name) is not None:
        return False
    return any(
        db.scalar(select(column).where(column == name).limit(1)) is not None
        for column in (Course.slug, Run.handle, StudyGroup.handle)
    )


def ensure_if_missing(username: str) -> None:
    """Make the profile of the course, run or study group `username` if it has none yet."""
    with session_scope() as db:
        if not missing(db, username):
            return
    with write_scope() as db:
        ensure(db, username)


def group_id_of(db: Session, profile: Profile) -> int | None:
    """The study group a local group profile stands for (its posts are the group's timeline)."""
    if profile.kind != "group" or profile.domain is not None:
        return None
    return db.scalar(select(StudyGroup.id).where(StudyGroup.handle == profile.username))
