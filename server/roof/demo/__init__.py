"""`serve --demo`: an empty instance gets the course folders shipped here and one open run."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from server.floor.clock import now
from server.floor.db import session_scope

log = logging.getLogger("mechmooc.demo")
COURSE_FOLDERS = Path(__file__).parent / "courses"


def demo_folders() -> list[Path]:
    """The course folders shipped with the package (copies of shared/fixtures/courses)."""
    return sorted(path for path in COURSE_FOLDERS.iterdir() if (path / "course.toml").is_file())


def fill_demo() -> bool:
    """Import the demo courses and open a run of the first, unless the instance has courses; True if filled."""
    from courses.folder import import_course
    from courses.models import Course
    from courses.runs import create_run

    with session_scope() as session:
        if session.scalar(select(func.count()).select_from(Course)):
            log.info("--demo: the instance already has courses; leaving it as it is")
            return False
    # One transaction: a failure leaves the instance empty, so the next `--demo` tries again.
    with session_scope() as session:
        courses = [import_course(session, folder) for folder in demo_folders()]
        # Starting next week leaves the run open for signups when a visitor first looks.
        create_run(session, courses[0], start=(now() + timedelta(days=7)).date())
        slugs = [course.slug for course in courses]
    log.info("--demo: imported %s and opened a run", ", ".join(slugs))
    return True
