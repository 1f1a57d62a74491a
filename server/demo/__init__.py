"""`serve --demo`: an empty instance gets the course folders shipped here and one open run."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from server.clock import now
from server.db import session_scope

log = logging.getLogger("mechmooc.demo")
COURSE_FOLDERS = Path(__file__).parent / "courses"


def demo_folders() -> list[Path]:
    """The course folders shipped with the package (copies of shared/fixtures/courses)."""
    return sorted(path for path in COURSE_FOLDERS.iterdir() if (path / "course.toml").is_file())


def fill_demo() -> bool:
    """Import the demo courses and open a run of the first, unless the instance has courses; True if filled."""
    from courses.models import Course

    with session_scope() as session:
        if session.scalar(select(func.count()).select_from(Course)):
            log.info("--demo: the instance already has courses; leaving it as it is")
            return False
    try:
        from courses.runs import create_run

        from courses.folder import import_course
    except ImportError as error:  # the courses package is still being built
        log.warning("--demo: the courses package cannot import folders yet (%s)", error)
        return False
    slugs = []
    for folder in demo_folders():
        with session_scope() as session:
            slugs.append(import_course(session, folder).slug)
    with session_scope() as session:
        course = session.scalar(select(Course).where(Course.slug == slugs[0]))
        # Starting next week leaves the run open for signups when a visitor first looks.
        create_run(session, course, start=(now() + timedelta(days=7)).date())
    log.info("--demo: imported %s and opened a run", ", ".join(slugs))
    return True
