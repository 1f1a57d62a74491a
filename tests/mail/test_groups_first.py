"""Groups before the first unit: no learner anywhere gets a unit rendered without their study group
(issue 11, items 1 and 2), with real SMTP sinks and frozen clocks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.folder import import_course
from courses.groups import grouping_at
from courses.models import Course, Enrollment, Run, StudyGroup
from courses.runs import advance_runs, create_run
from courses.signup import confirm, request_signup
from mail.models import OutgoingMail
from mail.scheduler import schedule_all_due, schedule_due
from mail.sender import send_all
from server.floor import urls
from server.floor.clock import frozen
from tests.mail.conftest import GENTLE_PYTHON
from tests.support.smtp import SmtpSink

START = date(2027, 1, 4)


def course(session: Session) -> Course:
    found = session.scalar(select(Course).where(Course.slug == "gentle-python"))
    return found or import_course(session, GENTLE_PYTHON)


def join(session: Session, run: Run, address: str, zone: str) -> Enrollment:
    """Sign up and open the confirmation link, as a learner does."""
    request_signup(session, run, address, address.split("@")[0].title(), zone)
    enrollment = session.scalars(select(Enrollment).where(Enrollment.email == address)).one()
    confirm(session, enrollment.token)
    return enrollment


def tick(session: Session, at: datetime) -> None:
    with frozen(at):
        schedule_all_due(session)
        send_all(session)


def units_to(sink: SmtpSink, address: str) -> list:
    return [r.message for r in sink.to(address) if not str(r.message["Subject"]).startswith("Confirm")]


def group_address_of(session: Session, address: str) -> str:
    session.expire_all()
    enrollment = session.scalars(select(Enrollment).where(Enrollment.email == address)).one()
    assert enrollment.group is not None, f"{address} has no group"
    return urls.group_address(enrollment.group.handle)


def test_a_run_created_on_its_start_day_groups_learners_before_the_welcome(
    session: Session, smtp_sink: SmtpSink, smtp_settings: object
) -> None:
    with frozen(datetime(2027, 1, 4, 6, tzinfo=UTC)):
        run = create_run(session, course(session), START, "UTC")
        assert run.status == "running"  # created on its start day
        for address in ("ann@example.org", "bob@example.org"):
            join(session, run, address, "Europe/Paris")
        session.commit()
    advance_runs(session, datetime(2027, 1, 4, 6, 1, tzinfo=UTC))
    session.commit()
    tick(session, datetime(2027, 1, 4, 8, tzinfo=UTC))  # 09:00 in Paris
    welcome = units_to(smtp_sink, "ann@example.org")
    assert len(welcome) == 1
    address = group_address_of(session, "ann@example.org")
    assert welcome[0]["Reply-To"] == address
    assert f"Your group's address is {address}: anything" in welcome[0].get_body(("plain",)).get_content()


def test_groups_form_an_hour_before_the_start_day_begins_anywhere(session: Session) -> None:
    with frozen(datetime(2026, 12, 20, tzinfo=UTC)):
        run = create_run(session, course(session), START, "America/Los_Angeles")
        join(session, run, "kiri@example.org", "Pacific/Kiritimati")
        join(session, run, "la@example.org", "America/Los_Angeles")
    # Midnight of 4 January at UTC+14 is 10:00 UTC on the 3rd; groups form at 09:00 UTC.
    assert grouping_at(run) == datetime(2027, 1, 3, 9, tzinfo=UTC)
    advance_runs(session, datetime(2027, 1, 3, 8, 59, tzinfo=UTC))
    assert session.scalars(select(StudyGroup)).all() == []
    advance_runs(session, datetime(2027, 1, 3, 9, tzinfo=UTC))
    assert run.status == "open"  # still a day before the run's own midnight in Los Angeles
    grouped = session.scalars(select(Enrollment.group_id).where(Enrollment.run_id == run.id)).all()
    assert len(grouped) == 2 and None not in grouped


def test_a_learner_east_of_the_run_gets_unit_zero_with_their_group(
    session: Session, smtp_sink: SmtpSink, smtp_settings: object
) -> None:
    with frozen(datetime(2026, 12, 20, tzinfo=UTC)):
        run = create_run(session, course(session), START, "America/Los_Angeles")
        join(session, run, "kiri@example.org", "Pacific/Kiritimati")
        join(session, run, "la@example.org", "America/Los_Angeles")
        session.commit()
    # Only the mail worker runs (the courses job is late): it forms the groups before rendering.
    tick(session, datetime(2027, 1, 3, 19, tzinfo=UTC))  # 09:00 on the 4th at UTC+14
    welcome = units_to(smtp_sink, "kiri@example.org")
    assert len(welcome) == 1 and units_to(smtp_sink, "la@example.org") == []
    assert welcome[0]["Reply-To"] == group_address_of(session, "kiri@example.org")


def test_a_unit_is_held_while_the_run_has_no_groups_then_sent_with_one(session: Session) -> None:
    with frozen(datetime(2026, 12, 20, tzinfo=UTC)):
        run = create_run(session, course(session), START, "UTC")
        ann = join(session, run, "ann@example.org", "Pacific/Kiritimati")
        session.commit()
    due = ann.next_due_at
    at = datetime(2027, 1, 3, 19, tzinfo=UTC)
    # The scan alone (no grouping before it, as if another worker were still forming the groups).
    with frozen(at):
        schedule_due(session, at)
    units = select(OutgoingMail).where(OutgoingMail.kind == "unit")
    assert session.scalars(units).all() == []
    session.refresh(ann)
    assert ann.next_position == 0 and ann.next_due_at is not None and ann.next_due_at > due  # type: ignore[operator]
    with frozen(ann.next_due_at):
        schedule_all_due(session, ann.next_due_at)
    mail = session.scalars(units).one()
    assert mail.group_id is not None and "Reply-To: " + group_address_of(session, "ann@example.org") in mail.message


def test_a_learner_who_signs_up_after_grouping_is_placed_at_once(session: Session) -> None:
    with frozen(datetime(2026, 12, 20, tzinfo=UTC)):
        run = create_run(session, course(session), START, "UTC")
        join(session, run, "ann@example.org", "UTC")
    advance_runs(session, datetime(2027, 1, 3, 9, tzinfo=UTC))
    with frozen(datetime(2027, 1, 3, 12, tzinfo=UTC)):
        late = join(session, run, "late@example.org", "UTC")
    assert late.group_id is not None
    assert timedelta(0) < late.next_due_at - datetime(2027, 1, 3, 12, tzinfo=UTC)  # type: ignore[operator]
