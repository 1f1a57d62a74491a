"""The community profiles of the course world's actors: a course is a bot account, a run and a
study group are group accounts (`community.people.actor_profile`, kind course/run/group), with the
URIs their ActivityPub actors already have. Made (or refreshed) on first use by whoever needs one:
an app looking a handle up (web.api), a unit notice, a course's or run's news (`courses.news`)."""

from __future__ import annotations

from html import escape

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community import people
from community.models import Profile
from courses.models import Course, Run, StudyGroup
from server.floor import urls

MAX_HANDLE = 64


def course_profile(session: Session, course: Course) -> Profile:
    """The bot profile of `course`."""
    return people.actor_profile(
        session,
        uri=urls.course(course.slug),
        kind="course",
        username=course.slug,
        display_name=course.title,
        note=f"<p>{escape(course.summary)}</p>" if course.summary else "",
    )


def run_profile(session: Session, run: Run) -> Profile:
    """The group profile of `run`."""
    title = run.course.title if run.course is not None else run.handle
    return people.actor_profile(
        session,
        uri=urls.run(run.handle),
        kind="run",
        username=run.handle,
        display_name=f"{title} ({run.start_date.isoformat()})",
    )


def group_profile(session: Session, group: StudyGroup) -> Profile:
    """The group profile of the study group `group`."""
    return people.actor_profile(
        session,
        uri=urls.group(group.handle),
        kind="group",
        username=group.handle,
        display_name=group.name or group.handle,
    )


def local_by_username(session: Session, username: str) -> Profile | None:
    """The local profile called `username` (any kind), if it exists."""
    query = select(Profile).where(func.lower(Profile.username) == username.lower(), Profile.domain.is_(None))
    return session.scalars(query.limit(1)).first()


def ensure(session: Session, username: str) -> Profile | None:
    """The profile of the course, run or study group with this handle (made on first use), or None."""
    name = username.strip().lstrip("@").lower()
    if not name or len(name) > MAX_HANDLE:
        return None
    found = local_by_username(session, name)
    if found is not None:
        return found
    course = session.scalar(select(Course).where(Course.slug == name))
    if course is not None:
        return course_profile(session, course)
    run = session.scalar(select(Run).where(Run.handle == name))
    if run is not None:
        return run_profile(session, run)
    group = session.scalar(select(StudyGroup).where(StudyGroup.handle == name))
    if group is not None:
        return group_profile(session, group)
    return None


def missing(session: Session, username: str) -> bool:
    """True when a course, run or study group has this handle but no profile yet (read only)."""
    name = username.strip().lstrip("@").lower()
    if not name or len(name) > MAX_HANDLE or local_by_username(session, name) is not None:
        return False
    return any(
        session.scalar(select(column).where(column == name).limit(1)) is not None
        for column in (Course.slug, Run.handle, StudyGroup.handle)
    )


def existing(session: Session, uris: list[str]) -> list[int]:
    """The ids of the local profiles among these actor URIs (those made so far)."""
    if not uris:
        return []
    return list(session.scalars(select(Profile.id).where(Profile.uri.in_(uris), Profile.domain.is_(None))))
