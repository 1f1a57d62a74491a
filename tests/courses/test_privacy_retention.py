"""Retention (issue 11, items 17 and 18): the daily pass forgets finished runs, each in its own transaction;
group members are told before, those who took part may stay (their consent recorded), the others leave."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Enrollment, Post, Run, StudyGroup
from courses.privacy import (
    RETENTION_NOTICE,
    anonymise_finished_runs,
    keep_in_group,
    retention_pass,
)
from courses.reactions import anonymise_job
from courses.runs import times_of
from server.floor.clock import frozen
from server.floor.errors import Invalid
from server.floor.events import DomainEvent
from tests.mail.conftest import gentle_run

START = date(2026, 3, 2)


def finished(session: Session, handle: str, people: list[str], group_size: int = 20) -> Run:
    """A finished run of gentle-python with these confirmed learners, grouped."""
    with frozen(datetime(2026, 3, 1, tzinfo=UTC)):
        run = gentle_run(
            session, [(f"{p}@example.org", p.title(), "UTC") for p in people], START, group_size, handle=handle
        )
    run.status = "finished"
    session.commit()
    return run


def due(session: Session, run: Run, days: int = 365) -> datetime:
    return times_of(session, run).ends + timedelta(days=days)


def place(session: Session, email: str) -> Enrollment:
    session.expire_all()
    return session.scalars(select(Enrollment).where(Enrollment.email == email)).one()


def events(session: Session, name: str) -> list[dict]:
    return [e.payload for e in session.scalars(select(DomainEvent).where(DomainEvent.name == name))]


def test_a_run_with_no_learners_no_longer_blocks_every_other(session: Session) -> None:
    """The daily job crashed on an empty executemany, rolled back everything, and failed again every day."""
    empty = finished(session, "empty-run", [])
    full = session.get(Run, finished(session, "full-run", []).id)
    assert full is not None
    # A learner without a group: nobody to tell, so forgotten on the day.
    session.add(Enrollment(run_id=full.id, email="solo@example.org", name="Solo", status="confirmed", token="t-solo"))
    session.commit()
    with frozen(due(session, empty) + timedelta(hours=1)):
        assert anonymise_job() == 2
    session.expire_all()
    assert session.get(Run, empty.id).anonymised and session.get(Run, full.id).anonymised  # type: ignore[union-attr]
    solo = session.scalars(select(Enrollment).where(Enrollment.run_id == full.id)).one()
    assert solo.email.endswith("@anonymised.invalid") and solo.name == "" and solo.token != "t-solo"  # type: ignore[union-attr]


def test_one_failing_run_is_logged_and_counted_the_others_are_forgotten(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    broken = finished(session, "broken-run", [])
    good = finished(session, "good-run", [])
    session.add(Enrollment(run_id=good.id, email="gil@example.org", name="Gil", status="left", token="t-gil"))
    session.commit()
    instant = due(session, good) + timedelta(days=1)
    broken.version_number = 99  # a run whose version is gone: reading it fails
    session.commit()
    with frozen(instant), caplog.at_level(logging.ERROR):
        report = retention_pass()
    assert report.failed == ["broken-run"] and report.anonymised == ["good-run"]
    assert "retention of run broken-run failed" in caplog.text and "1 runs failed" in caplog.text
    session.expire_all()
    assert not session.get(Run, broken.id).anonymised and session.get(Run, good.id).anonymised  # type: ignore[union-attr]


def test_members_are_told_first_those_who_stay_keep_their_place_the_others_leave_the_group(session: Session) -> None:
    run = finished(session, "told-run", ["ann", "bob", "cy", "dee"], group_size=3)
    first, second = session.scalars(select(StudyGroup).order_by(StudyGroup.number)).all()
    ann, bob = place(session, "ann@example.org"), place(session, "bob@example.org")
    ann_token, bob_token = ann.token, bob.token
    session.add_all([
        Post(group_id=first.id, run_id=run.id, author_email="ann@example.org", author_name="Ann", text="Mine"),
        Post(group_id=first.id, run_id=run.id, author_email="bob@example.org", author_name="Bob", text="His"),
        Post(group_id=first.id, run_id=run.id, author_email="x@elsewhere.org", author_name="X", text="Held", held=True),
    ])  # fmt: skip
    session.commit()
    end = due(session, run)
    with frozen(end - RETENTION_NOTICE - timedelta(hours=1)):
        assert retention_pass().told == []
        with pytest.raises(Invalid, match="you will be asked"):
            keep_in_group(session, ann.token)
    told_at = end - RETENTION_NOTICE + timedelta(hours=1)
    with frozen(told_at):
        report = retention_pass()
    assert report.told == ["told-run"] and report.anonymised == []
    session.expire_all()
    run = session.get(Run, run.id)  # type: ignore[assignment]
    assert run.anonymise_at == told_at + RETENTION_NOTICE and not run.anonymised
    [closing] = events(session, "run.closing")
    assert closing["run_id"] == run.id and closing["anonymise_at"] == run.anonymise_at.isoformat()  # type: ignore[union-attr]
    with frozen(told_at + timedelta(days=2)):
        kept = keep_in_group(session, ann.token)
        session.commit()
    assert kept.keep_consent_at == told_at + timedelta(days=2)
    # Told once: a later pass before the date changes nothing and never moves the date.
    with frozen(run.anonymise_at - timedelta(minutes=1)):  # type: ignore[operator]
        assert retention_pass() == type(report)()
    with frozen(run.anonymise_at):  # type: ignore[arg-type]
        assert retention_pass().anonymised == ["told-run"]
    session.expire_all()
    ann_now, bob_now = place(session, "ann@example.org"), session.get(Enrollment, bob.id)
    assert (ann_now.name, ann_now.token, ann_now.group_id) == ("Ann", ann_token, first.id)
    assert bob_now is not None and bob_now.email == f"learner-{bob.id}@anonymised.invalid"
    assert bob_now.group_id is None and bob_now.name == "" and bob_now.token != bob_token
    assert session.scalars(select(Enrollment.group_id).where(Enrollment.run_id == run.id)).all().count(None) == 3
    authors = dict(session.execute(select(Post.text, Post.author_email)).tuples().all())
    assert authors == {"Mine": "ann@example.org", "His": None, "Held": None}
    [anonymising] = events(session, "run.anonymising")
    assert ann.id not in anonymising["enrollment_ids"] and bob.id in anonymising["enrollment_ids"]
    assert second.id not in set(session.scalars(select(Enrollment.group_id)))  # nobody left in the second group

    # Ann stays until she leaves; then the next pass forgets her too.
    from courses import learner

    learner.leave(session, ann.token)
    session.commit()
    with frozen(run.anonymise_at + timedelta(days=3)):  # type: ignore[operator]
        assert retention_pass().leavers == 1
    gone = session.get(Enrollment, ann.id)
    session.refresh(gone)
    assert gone.email == f"learner-{ann.id}@anonymised.invalid" and gone.keep_consent_at is None  # type: ignore[union-attr]
    assert session.scalar(select(Post.author_email).where(Post.text == "Mine")) is None


def test_the_admins_shorter_delay_still_tells_first_and_a_group_free_run_goes_at_once(session: Session) -> None:
    grouped = finished(session, "grouped-run", ["fay"])
    alone = finished(session, "alone-run", [])
    session.add(Enrollment(run_id=alone.id, email="ole@example.org", status="confirmed", token="t-ole"))
    session.commit()
    instant = times_of(session, grouped).ends + timedelta(days=10)
    with frozen(instant):
        assert [run.handle for run in anonymise_finished_runs(session, older_than_days=5)] == ["alone-run"]
    session.commit()
    fay_run = session.get(Run, grouped.id)
    assert fay_run is not None and fay_run.anonymise_at == instant + RETENTION_NOTICE and not fay_run.anonymised
    with frozen(instant + RETENTION_NOTICE):
        assert [run.handle for run in anonymise_finished_runs(session, older_than_days=5)] == ["grouped-run"]
