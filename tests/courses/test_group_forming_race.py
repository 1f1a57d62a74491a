"""Two workers forming the same run's groups at once (the courses job and the mail scan) make one set."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses.folder import import_course
from courses.groups import form_groups
from courses.models import Enrollment, Run, StudyGroup
from courses.runs import create_run
from courses.signup import admin_enroll
from server.floor.clock import frozen
from server.floor.db import is_postgres, session_factory
from tests.conftest import FIXTURES


def test_concurrent_grouping_forms_one_set_of_groups(session: Session) -> None:
    if not is_postgres(session):
        pytest.skip("SQLite serializes writers itself (a second writer waits or fails, never doubles)")
    course = import_course(session, FIXTURES / "courses" / "gentle-python")
    with frozen(datetime(2026, 12, 1, tzinfo=UTC)):
        run = create_run(session, course, date(2027, 1, 4), "UTC", group_size=4)
        for number in range(12):
            admin_enroll(session, run, f"l{number}@example.org", f"L{number}", "UTC")
    session.commit()
    run_id = run.id
    first = session_factory()()
    form_groups(first, first.get(Run, run_id))  # holds the run's row, not committed yet
    done = threading.Event()

    def second_worker() -> None:
        with session_factory()() as other:
            form_groups(other, other.get(Run, run_id))
            other.commit()
        done.set()

    worker = threading.Thread(target=second_worker)
    worker.start()
    assert not done.wait(0.5)  # it waits for the first worker's transaction
    first.commit()
    first.close()
    worker.join(10)
    assert done.is_set()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(StudyGroup).where(StudyGroup.run_id == run_id)) == 3
    assert None not in session.scalars(select(Enrollment.group_id).where(Enrollment.run_id == run_id)).all()
