"""Courses, runs and study groups as accounts: a course is a bot account, a run and a study group
are group accounts (profiles of kind course/run/group, `community.people.actor_profile`), made the
first time an app looks one up by its handle (`courses.profiles`, shared with the course world's news)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.models import Profile
from courses import profiles
from courses.models import StudyGroup
from server.floor.db import session_scope, write_scope

local_by_username = profiles.local_by_username
ensure = profiles.ensure
missing = profiles.missing


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
