"""A recurring run's successor, created ahead by the calendar, follows a version published before it starts."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from courses import editor
from courses.folder import import_course
from courses.runs import advance_runs, create_run, successor_of
from courses.signup import admin_enroll
from server.floor.clock import frozen
from tests.conftest import FIXTURES

MONDAY = date(2027, 1, 4)


def test_a_successor_that_has_not_started_moves_to_the_new_version(session: Session) -> None:
    course = import_course(session, FIXTURES / "courses" / "gentle-python")
    with frozen(datetime(2026, 12, 1, tzinfo=UTC)):
        run = create_run(session, course, MONDAY, "UTC", every_weeks=1)
    advance_runs(session, datetime(2026, 12, 29, tzinfo=UTC))
    following = successor_of(session, run)
    assert following is not None and following.version_number == 1
    with frozen(datetime(2026, 12, 30, tzinfo=UTC)):
        waiting = admin_enroll(session, following, "early@example.org", "Early", "UTC")
        first_due = waiting.next_due_at
        editor.update_unit(session, course.units[0], title="A new welcome")
        course.units[0].day = 1
        editor.publish(session, course)
    assert following.version_number == 2  # not started: it follows
    assert run.version_number == 1  # started before (its own zone's Monday is past the grouping instant)
    session.refresh(waiting)
    assert waiting.next_due_at is not None and first_due is not None
    assert (waiting.next_due_at - first_due).days == 1  # the cursor follows the new unit's day


def test_a_successor_that_has_started_keeps_its_version(session: Session) -> None:
    course = import_course(session, FIXTURES / "courses" / "gentle-python")
    with frozen(datetime(2026, 12, 1, tzinfo=UTC)):
        run = create_run(session, course, MONDAY, "UTC", every_weeks=1)
    advance_runs(session, datetime(2026, 12, 29, tzinfo=UTC))
    following = successor_of(session, run)
    assert following is not None
    with frozen(datetime(2027, 1, 10, 12, tzinfo=UTC)):  # its start day has begun somewhere
        editor.update_unit(session, course.units[0], title="Too late")
        editor.publish(session, course)
    assert following.version_number == 1
