"""A CSV import into a run whose groups are due: the groups and the first schedule cursors are written
with the rows (courses.groups.form_groups_with, the mail package's `enrollments.confirmed` preparer),
and come out exactly as inserting first, then grouping (`form_groups`) and starting the cursors
(`mail.scheduler.start_many`) did."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from courses import editor
from courses.bulk import check_rows, enroll_many, import_learners, read_csv
from courses.folder import import_course
from courses.groups import form_groups, grouping_at, has_groups
from courses.models import Course, Enrollment, Run, StudyGroup
from courses.runs import create_run
from courses.signup import confirm, request_signup
from mail.scheduler import start_many
from server.floor.clock import frozen, now
from server.floor.events import publish
from tests.mail.conftest import GENTLE_PYTHON

BEFORE = datetime(2026, 12, 1, tzinfo=UTC)
CLOSES = datetime(2026, 12, 20, tzinfo=UTC)
ZONES = ["America/New_York", "Europe/Paris", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo", "UTC"]


def _course(session: Session, question: bool) -> Course:
    course = import_course(session, GENTLE_PYTHON)
    if question:
        asked = [{"id": "experience", "label": "Programmed before?", "kind": "choice", "choices": ["never", "some"]}]
        editor.update_course(session, course, questions=asked, group_by=["timezone", "experience"])
    return course


def _csv(count: int, seed: int, prefix: str) -> str:
    pick = random.Random(seed)
    lines = ["email,name,timezone,language"]
    for i in range(count):
        lines.append(f"{prefix}{i}@example.org,L {i},{pick.choice(ZONES)},{pick.choice(['en', 'en', 'fr', ''])}")
    return "\n".join(lines) + "\n"


def _seed(session: Session, run: Run) -> None:
    """Learners who signed up themselves before the import (answers, a paused one, a solo one)."""
    with frozen(BEFORE):
        for i, zone in enumerate(ZONES):
            answers = {"experience": "some" if i % 2 else "never"} if "experience" in str(run.course.questions) else {}
            request_signup(session, run, f"early{i}@example.org", f"Early {i}", zone, "en", answers, solo=i == 5)
            token = session.scalar(select(Enrollment.token).where(Enrollment.email == f"early{i}@example.org",
                                                                  Enrollment.run_id == run.id))  # fmt: skip
            confirm(session, token or "")


def _outcome(session: Session, run: Run) -> dict[str, Any]:
    """Every learner's place (group number, status, cursor) and the groups (number, zone, language)."""
    session.expire_all()
    groups = {g.id: g for g in session.scalars(select(StudyGroup).where(StudyGroup.run_id == run.id))}
    places = {
        e.email: (groups[e.group_id].number if e.group_id else None, e.status, e.next_position, e.next_due_at)
        for e in session.scalars(select(Enrollment).where(Enrollment.run_id == run.id))
    }
    labels = sorted((g.number, g.timezone, g.language, g.name) for g in groups.values())
    return {"places": places, "groups": labels}


@pytest.mark.parametrize("question", [False, True], ids=["timezone-language", "timezone-question"])
def test_an_import_with_groups_due_writes_the_groups_and_cursors_the_later_passes_gave(
    session: Session, question: bool
) -> None:
    course = _course(session, question)
    with frozen(BEFORE):
        runs = [
            create_run(session, course, date(2027, 1, 4), "UTC", group_size=4, capacity=40, signup_closes_at=CLOSES)
            for _ in range(2)
        ]
    for run in runs:
        _seed(session, run)
    fresh, earlier = runs  # the import as it is now / insert first, then the passes that came after it
    csv = _csv(40, 7, "csv")
    at = CLOSES + timedelta(hours=3)
    assert at >= grouping_at(fresh)
    with frozen(at):
        outcome = import_learners(session, fresh, csv)
        learners, errors = check_rows(session, earlier, read_csv(csv))
        assert not errors
        ids = enroll_many(session, earlier, learners)
        # The cursors as the mail package's bulk reaction set them after the insert.
        seated = list(session.scalars(select(Enrollment.id).where(Enrollment.id.in_(ids),
                                                                  Enrollment.status == "confirmed")))  # fmt: skip
        reset = update(Enrollment).where(Enrollment.id.in_(ids)).values(next_position=0, next_due_at=None)
        session.execute(reset)
        assert start_many(session, earlier.id, seated, now()) == len(seated)
        form_groups(session, earlier)
    assert outcome.enrolled == 34 and outcome.waitlisted == 6  # 6 seated before, capacity 40
    mine, theirs = _outcome(session, fresh), _outcome(session, earlier)
    assert mine["groups"] == theirs["groups"] and len(mine["groups"]) >= 9
    assert mine["places"] == theirs["places"]
    imported = {email: place for email, place in mine["places"].items() if email.startswith("csv")}
    assert sum(1 for place in imported.values() if place[0] is not None) == 34
    assert all(place[3] is not None for place in imported.values() if place[1] == "confirmed")
    assert all(place[0] is None and place[3] is None for place in imported.values() if place[1] == "waitlisted")
    assert theirs["places"]["early5@example.org"][0] is None  # solo stays out of every group

    # Groups exist now: a second import places its learners as late joiners, one by one, as before.
    with frozen(at + timedelta(hours=1)):
        assert has_groups(session, fresh)
        fresh.capacity = None
        import_learners(session, fresh, _csv(3, 8, "late"))
    late = {e: p for e, p in _outcome(session, fresh)["places"].items() if e.startswith("late")}
    assert len(late) == 3 and all(place[0] is not None and place[3] is not None for place in late.values())


def test_an_import_writes_each_learner_once_and_the_bulk_event_finds_nothing_left_to_start(session: Session) -> None:
    course = _course(session, question=False)
    with frozen(BEFORE):
        run = create_run(session, course, date(2027, 1, 4), "UTC", group_size=4, signup_closes_at=CLOSES)
    statements: list[str] = []
    engine = session.get_bind()

    def note(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(" ".join(statement.split()).lower())

    event.listen(engine, "before_cursor_execute", note)
    try:
        with frozen(CLOSES + timedelta(hours=3)):
            import_learners(session, run, _csv(30, 9, "csv"))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    # The cursors and groups went in with the rows: no UPDATE of them after, and the mail package's
    # reaction to the event does not look for learners to start (start_many would select them).
    assert not [s for s in statements if s.startswith("update enrollments")]
    assert not [s for s in statements if "next_due_at is null" in s]
    places = _outcome(session, run)["places"]
    assert len(places) == 30 and all(group is not None and due is not None for group, _, _, due in places.values())


def test_a_bulk_event_for_rows_not_prepared_still_starts_their_cursors(session: Session) -> None:
    course = _course(session, question=False)
    with frozen(BEFORE):
        run = create_run(session, course, date(2027, 1, 4), "UTC")
        learners, _ = check_rows(session, run, read_csv(_csv(5, 10, "raw")))
        ids = [
            Enrollment(run_id=run.id, email=r.email, timezone=r.timezone, status="confirmed", token=f"t{r.line}")
            for r in learners
        ]
        session.add_all(ids)
        session.flush()
        publish(session, "enrollments.confirmed", {"run_id": run.id, "enrollment_ids": [e.id for e in ids]})
    assert all(place[3] is not None for place in _outcome(session, run)["places"].values())
