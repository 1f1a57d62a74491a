"""Fixtures of the mail tests: a real SMTP sink, settings that send to it, a run of gentle-python."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy.orm import Session

from courses.folder import import_course
from courses.models import Enrollment, Run, StudyGroup
from courses.versions import publish
from server.floor.config import use_settings
from server.floor.events import publish as publish_event
from server.floor.settings import Settings
from tests.conftest import FIXTURES
from tests.support.smtp import SmtpSink
from tests.support.wakes import sent  # noqa: F401  (fixture)

GENTLE_PYTHON = FIXTURES / "courses" / "gentle-python"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """An aiosmtpd server on 127.0.0.1 that keeps what it accepts."""
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def smtp_settings(settings: Settings, smtp_sink: SmtpSink) -> Iterator[Settings]:
    """The test instance, sending its mail to `smtp_sink`."""
    configured = replace(settings, smtp_url=smtp_sink.url, smtp_connections=2)
    use_settings(configured)
    yield configured
    use_settings(settings)


def gentle_run(
    session: Session,
    learners: Sequence[tuple[str, str, str]],
    start: date = date(2026, 3, 2),
    group_size: int = 20,
    handle: str = "gentle-python-1",
) -> Run:
    """A run of gentle-python with confirmed learners (email, name, zone), grouped in order, events published."""
    from sqlalchemy import select

    from courses.models import Course

    course = session.scalar(select(Course).where(Course.slug == "gentle-python"))
    if course is None:
        course = import_course(session, GENTLE_PYTHON)
        session.flush()
        publish(session, course)
    run = Run(handle=handle, course_id=course.id, version_number=course.current_version or 1, start_date=start)
    session.add(run)
    session.flush()
    groups: list[StudyGroup] = []
    for index, (address, name, zone) in enumerate(learners):
        if index % group_size == 0:
            group = StudyGroup(run_id=run.id, number=len(groups) + 1, handle=f"{handle}-g{len(groups) + 1}")
            session.add(group)
            session.flush()
            groups.append(group)
        enrollment = Enrollment(
            run_id=run.id,
            email=address,
            name=name,
            timezone=zone,
            status="confirmed",
            group_id=groups[-1].id,
            token=secrets.token_hex(16),
        )
        session.add(enrollment)
        session.flush()
        publish_event(session, "enrollment.confirmed", {"enrollment_id": enrollment.id})
    session.commit()
    return run
