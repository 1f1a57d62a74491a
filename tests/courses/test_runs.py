"""Runs: versions pinned, status over time, recurring runs, late signups, the editor's services."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses import editor, versions
from courses.folder import import_course
from courses.models import Course
from courses.runs import advance_runs, create_run, find_run, run_for_signup, successor_of
from server.floor.clock import frozen
from server.floor.errors import Invalid
from server.floor.events import DomainEvent
from tests.conftest import FIXTURES

MONDAY = date(2027, 1, 4)


def _course(session: Session) -> Course:
    return import_course(session, FIXTURES / "courses" / "gentle-python")


def _events(session: Session, name: str) -> list[dict]:
    return [
        e.payload for e in session.scalars(select(DomainEvent).where(DomainEvent.name == name).order_by(DomainEvent.id))
    ]


def test_a_run_publishes_the_course_and_pins_that_version(session: Session) -> None:
    course = _course(session)
    with frozen(datetime(2026, 12, 1, tzinfo=UTC)):
        run = create_run(session, course, MONDAY, "Europe/Paris")
    assert (course.current_version, run.version_number, course.draft_changed) == (1, 1, False)
    assert run.status == "open" and run.handle == "gentle-python-2027-01-04"
    assert _events(session, "run.created") == [{"run_id": run.id}]
    editor.update_unit(session, course.units[0], title="Hello")
    assert course.draft_changed
    editor.publish(session, course)
    assert versions.pinned(session, run)["units"][0]["title"] == "Welcome to your study group"
    assert find_run(session, f"http://testserver.localhost/runs/{run.handle}") is run


def test_status_moves_from_scheduled_to_finished(session: Session) -> None:
    course = _course(session)
    opens = datetime(2026, 12, 20, tzinfo=UTC)
    with frozen(datetime(2026, 12, 1, tzinfo=UTC)):
        run = create_run(session, course, MONDAY, "UTC", signup_opens_at=opens)
    assert run.status == "scheduled"
    steps = [(datetime(2026, 12, 21, tzinfo=UTC), "open"), (datetime(2027, 1, 4, 0, 1, tzinfo=UTC), "running")]
    steps.append((datetime(2027, 1, 4, tzinfo=UTC) + timedelta(days=42 + 7), "finished"))
    for instant, status in steps:
        advance_runs(session, instant)
        assert run.status == status


def test_a_weekly_run_has_its_successor_before_it_starts(session: Session) -> None:
    course = _course(session)
    with frozen(datetime(2026, 12, 1, tzinfo=UTC)):
        run = create_run(session, course, MONDAY, "UTC", every_weeks=1)
    assert successor_of(session, run) is None
    advance_runs(session, datetime(2026, 12, 29, tzinfo=UTC))
    following = successor_of(session, run)
    assert following is not None and following.start_date == MONDAY + timedelta(weeks=1)
    assert following.every_weeks == 1 and successor_of(session, following) is None
    assert len(_events(session, "run.created")) == 2
    # Overlapping runs of one course are fine.
    assert create_run(session, course, MONDAY + timedelta(days=3)).course_id == course.id


def test_late_signups_go_where_the_late_join_policy_says(session: Session) -> None:
    course = _course(session)
    with frozen(datetime(2026, 12, 1, tzinfo=UTC)):
        run = create_run(session, course, MONDAY, "UTC", every_weeks=2)
    during = datetime(2027, 1, 10, tzinfo=UTC)
    assert run_for_signup(session, run, during) is run
    editor.update_course(session, course, late_join="next_run")
    editor.publish(session, course)
    with frozen(datetime(2026, 12, 1, tzinfo=UTC)):
        strict = create_run(session, course, MONDAY, "UTC", every_weeks=2)
    advance_runs(session, during)
    following = run_for_signup(session, strict, during)
    assert following.previous_run_id == strict.id
    # A run of another course, with no run after it, takes no late signups at all.
    other = editor.create_course(session, "other", "Other", late_join="next_run")
    editor.add_unit(session, other, "Only", 0, "Hello")
    with frozen(datetime(2026, 12, 1, tzinfo=UTC)):
        lone = create_run(session, other, MONDAY, "UTC")
    with pytest.raises(Invalid, match="no next run"):
        run_for_signup(session, lone, during)


def test_bad_run_input_is_refused(session: Session) -> None:
    course = _course(session)
    with pytest.raises(Invalid, match="timezone 'Mars/Olympus'"):
        create_run(session, course, MONDAY, "Mars/Olympus")
    with pytest.raises(Invalid, match="every 0"):
        create_run(session, course, MONDAY, every_weeks=0)


def test_editor_services_and_draft_changes(session: Session) -> None:
    course = editor.create_course(session, "tiny", "Tiny course", license="MIT", group_size=8)
    assert course.draft_changed and course.current_version is None
    editor.add_unit(session, course, "Start", 0, "Hi {{ learner.name }}")
    editor.add_unit(session, course, "Middle", 7, "In {{ group.address }}")
    editor.add_unit(session, course, "Intro", 0, "First!", position=0)
    assert [u.slug for u in course.units] == ["intro", "start", "middle"]
    editor.reorder_units(session, course, ["start", "intro", "middle"])
    editor.delete_unit(session, course, "intro")
    assert [(u.slug, u.position) for u in course.units] == [("start", 0), ("middle", 1)]
    version = editor.publish(session, course)
    assert version.number == 1 and not course.draft_changed
    editor.update_course(session, course, summary="Now with a summary")
    assert course.draft_changed
    with pytest.raises(Invalid, match="license 'Nope'"):
        editor.update_course(session, course, license="Nope")
    with pytest.raises(Invalid, match="body line 1"):
        editor.add_unit(session, course, "Bad", 1, "{{ lerner.name }}")
    with pytest.raises(Invalid, match="groups.by 'colour'"):
        editor.update_course(session, course, group_by=["timezone", "colour"])


def test_the_status_job_is_declared_every_minute_and_advances_runs(session: Session) -> None:
    from server.floor import jobs

    declared = jobs.registered()["courses.advance_runs"]
    assert declared.every == 60 and "courses.anonymise_finished_runs" in jobs.registered()
    course = _course(session)
    with frozen(datetime(2026, 12, 1, tzinfo=UTC)):
        run = create_run(session, course, MONDAY, "UTC")
    session.commit()
    with frozen(datetime(2027, 1, 5, tzinfo=UTC)):
        assert declared.function() == 1
    session.refresh(run)
    assert run.status == "running"


def test_handles_are_one_namespace(session: Session) -> None:
    from courses.groups import form_groups
    from courses.handles import handle_taken
    from courses.signup import admin_enroll
    from server.floor.accounts import create_account

    create_account(session, "x@example.org", handle="gentle-python-2027-01-04-1")
    course = _course(session)
    with frozen(datetime(2026, 12, 1, tzinfo=UTC)):
        run = create_run(session, course, MONDAY, "UTC")
        admin_enroll(session, run, "ada@example.org")
    form_groups(session, run)
    assert [g.handle for g in run.groups] == ["gentle-python-2027-01-04-1-2"]
    assert all(handle_taken(session, h) for h in ("gentle-python", run.handle, "gentle-python-2027-01-04-1-2"))
    assert not handle_taken(session, "nobody-here")
    with pytest.raises(Invalid, match="taken"):
        editor.create_course(session, "gentle-python-2027-01-04", "Clash")
