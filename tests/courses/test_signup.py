"""Signup: double opt-in, no address disclosure, waiting list, magic-link operations, groups, privacy."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses import learner
from courses.bulk import import_learners
from courses.folder import import_course
from courses.groups import form_groups, move_learner
from courses.models import Enrollment, Post, Run, StudyGroup
from courses.privacy import anonymise_finished_runs, can_see_learners
from courses.runs import advance_runs, create_run
from courses.signup import admin_enroll, confirm, enroll_actor, request_signup
from server.floor.accounts import create_account
from server.floor.clock import frozen
from server.floor.errors import Invalid, NotFound
from server.floor.events import DomainEvent
from tests.conftest import FIXTURES

BEFORE = datetime(2026, 12, 1, tzinfo=UTC)


def _run(session: Session, **options: object) -> Run:
    course = import_course(session, FIXTURES / "courses" / "gentle-python")
    with frozen(BEFORE):
        return create_run(session, course, date(2027, 1, 4), "UTC", **options)  # type: ignore[arg-type]


def _events(session: Session, name: str) -> list[dict]:
    return [
        e.payload for e in session.scalars(select(DomainEvent).where(DomainEvent.name == name).order_by(DomainEvent.id))
    ]


def _token(session: Session, email: str) -> str:
    return session.scalar(select(Enrollment.token).where(Enrollment.email == email)) or ""


def test_double_opt_in_is_single_use_and_never_reveals_an_address(session: Session) -> None:
    run = _run(session)
    with frozen(BEFORE):
        first = request_signup(session, run, "Ada@Example.org", "Ada", "Europe/London", answers={"x": 1})
        token = _token(session, "Ada@example.org")
        assert session.scalar(select(Enrollment.status).where(Enrollment.token == token)) == "pending"
        assert _events(session, "enrollment.requested")[-1]["enrollment_id"]
        done = confirm(session, token)
        assert (done.already, done.enrollment.status) == (False, "confirmed")
        again = confirm(session, token)
        assert again.already and "used already" in again.message
        second = request_signup(session, run, "ada@example.org", "Someone else", "Asia/Tokyo")
    assert first == second  # the same answer for a new and a known address
    assert done.enrollment.name == "Ada" and done.enrollment.timezone == "Europe/London"
    assert len(_events(session, "enrollment.confirmed")) == 1
    with pytest.raises(NotFound):
        confirm(session, "not-a-token")


@pytest.mark.parametrize(
    ("email", "zone", "message"),
    [
        ("not-an-address", "UTC", "email 'not-an-address'"),
        ("a@example.org", "Europe/Nowhere", "timezone 'Europe/Nowhere'"),
    ],
)
def test_bad_signup_fields_are_named(session: Session, email: str, zone: str, message: str) -> None:
    run = _run(session)
    with frozen(BEFORE), pytest.raises(Invalid, match=message):
        request_signup(session, run, email, "X", zone)


def test_capacity_waiting_list_and_leaving(session: Session) -> None:
    run = _run(session, capacity=2)
    with frozen(BEFORE):
        a = admin_enroll(session, run, "a@example.org", "A")
        admin_enroll(session, run, "b@example.org", "B")
        c = admin_enroll(session, run, "c@example.org", "C")
        assert c.status == "waitlisted"
        learner.leave(session, a.token)
    assert (a.status, c.status) == ("left", "confirmed")
    with pytest.raises(Invalid, match="enrolled in run"):
        admin_enroll(session, run, "b@example.org")


def test_magic_link_operations_publish_changes(session: Session) -> None:
    run = _run(session, every_weeks=1)
    with frozen(BEFORE):
        ada = admin_enroll(session, run, "ada@example.org", "Ada", "Europe/Paris")
        learner.change_details(session, ada.token, name="Ada L.", timezone="America/New_York")
        learner.pause(session, ada.token)
        learner.resume(session, ada.token)
    advance_runs(session, datetime(2026, 12, 29, tzinfo=UTC))
    learner.move_to_next_run(session, ada.token)
    assert ada.run.previous_run_id == run.id and ada.status == "confirmed" and ada.name == "Ada L."
    changes = [p["change"] for p in _events(session, "enrollment.changed")]
    assert changes == ["timezone", "paused", "resumed", "moved"]


def test_groups_late_joiners_solo_learners_and_moves(session: Session) -> None:
    run = _run(session, group_size=4)
    zones = ["America/New_York"] * 4 + ["Asia/Tokyo"] * 4 + ["Europe/Paris"] * 4
    with frozen(BEFORE):
        for i, zone in enumerate(zones):
            admin_enroll(session, run, f"l{i}@example.org", f"L{i}", zone)
        solo = admin_enroll(session, run, "solo@example.org", "Solo", "UTC", solo=True)
    advance_runs(session, datetime(2027, 1, 4, 1, tzinfo=UTC))
    groups = session.scalars(select(StudyGroup).where(StudyGroup.run_id == run.id).order_by(StudyGroup.number)).all()
    assert [g.timezone for g in groups] == ["America/New_York", "Europe/Paris", "Asia/Tokyo"]
    assert solo.group_id is None
    with frozen(datetime(2027, 1, 5, tzinfo=UTC)):
        late = admin_enroll(session, run, "late@example.org", "Late", "Europe/Berlin")
    assert late.group_id == groups[1].id
    move_learner(session, late, groups[0])
    assert late.group_id == groups[0].id
    fedi = enroll_actor(session, run, "https://social.example/users/bo", "Bo", "Asia/Seoul")
    assert fedi.group_id == groups[2].id and enroll_actor(session, run, fedi.actor or "", "Bo") is fedi


def test_csv_import_all_or_nothing(session: Session) -> None:
    run = _run(session)
    good = "email,name,timezone,language\na@example.org,A,Europe/Paris,fr\nb@example.org,B,UTC,\n"
    bad = good + "c@example,C,UTC,\nd@example.org,D,Mars/Base,\na@example.org,A again,UTC,\n"
    with pytest.raises(Invalid) as caught:
        import_learners(session, run, bad)
    assert "line 4: email 'c@example'" in str(caught.value) and "line 5: timezone 'Mars/Base'" in str(caught.value)
    assert "line 6: a@example.org is on line 2 already" in str(caught.value)
    assert session.scalar(select(func.count()).select_from(Enrollment)) == 0
    assert import_learners(session, run, good, dry_run=True).enrolled == 2
    assert session.scalar(select(func.count()).select_from(Enrollment)) == 0
    assert import_learners(session, run, good).enrolled == 2
    assert _events(session, "enrollments.confirmed")[-1]["run_id"] == run.id
    with pytest.raises(Invalid, match="header needs the columns"):
        import_learners(session, run, "mail,name\nx@example.org,X\n")


def test_privacy_visibility_and_anonymising(session: Session) -> None:
    owner = create_account(session, "owner@example.org", role="organizer")
    other = create_account(session, "other@example.org", role="organizer")
    admin = create_account(session, "root@example.org", role="admin")
    run = _run(session)
    run.organizer_id = owner.id
    assert [can_see_learners(a, run) for a in (owner, other, admin, None)] == [True, False, True, False]
    with frozen(BEFORE):
        ada = admin_enroll(session, run, "ada@example.org", "Ada")
    form_groups(session, run)
    post = Post(group_id=run.groups[0].id, run_id=run.id, author_email="ada@example.org", author_name="Ada", text="Hi")
    session.add(post)
    advance_runs(session, datetime(2027, 3, 1, tzinfo=UTC))
    assert run.status == "finished"
    with frozen(datetime(2027, 3, 10, tzinfo=UTC)):
        assert anonymise_finished_runs(session, older_than_days=30) == []
        # Ada is in a study group: she is told first, and forgotten RETENTION_NOTICE later.
        assert anonymise_finished_runs(session, older_than_days=5) == []
    with frozen(datetime(2027, 3, 24, tzinfo=UTC)):
        assert anonymise_finished_runs(session, older_than_days=5) == [run]
    session.refresh(ada)
    assert ada.email.endswith("@anonymised.invalid") and ada.name == "" and run.anonymised
    session.refresh(post)
    assert (post.author_email, post.author_name, post.text) == (None, "", "Hi")


def test_the_course_questions_are_checked_and_kept(session: Session) -> None:
    from courses import editor

    course = import_course(session, FIXTURES / "courses" / "gentle-python")
    questions = [
        {
            "id": "experience",
            "label": "Programmed before?",
            "kind": "choice",
            "choices": ["never", "some"],
            "required": True,
        },
        {"id": "camera", "label": "Video calls?", "kind": "yesno"},
    ]
    editor.update_course(session, course, questions=questions, group_by=["timezone", "experience"])
    with frozen(BEFORE):
        run = create_run(session, course, date(2027, 1, 4), "UTC")
        with pytest.raises(Invalid, match=r"answer to 'Programmed before\?' \(experience\) is required"):
            request_signup(session, run, "a@example.org", "A", "UTC", answers={})
        with pytest.raises(Invalid, match="experience must be one of never, some"):
            request_signup(session, run, "a@example.org", "A", "UTC", answers={"experience": "lots"})
        request_signup(
            session, run, "a@example.org", "A", "UTC", answers={"experience": "some", "camera": "yes", "x": 1}
        )
    kept = session.scalar(select(Enrollment.answers).where(Enrollment.email == "a@example.org"))
    assert kept == {"experience": "some", "camera": True}
