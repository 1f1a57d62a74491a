"""A unit mailed to a learner with an account here reaches their home feed and notifications."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from community import statuses, timelines
from community.models import Notification, Status
from community.people import local_profile
from courses.models import Enrollment
from mail.outbox import OutgoingMail
from mail.scheduler import schedule_all_due
from server.floor.accounts import create_account
from server.floor.clock import frozen
from tests.mail.conftest import gentle_run


def test_a_mailed_unit_notifies_the_learner_with_an_account(session: Session) -> None:
    with frozen(datetime(2026, 3, 1, tzinfo=UTC)):
        gentle_run(session, [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC")])
    ann = local_profile(session, create_account(session, "ann@example.org", handle="ann"))
    session.execute(update(Enrollment).where(Enrollment.email == "ann@example.org").values(account_id=ann.account_id))
    session.commit()
    with frozen(datetime(2026, 3, 2, 9, tzinfo=UTC)):
        schedule_all_due(session)
    session.commit()
    assert session.scalar(select(OutgoingMail.id).where(OutgoingMail.to_addr == "bob@example.org")) is not None
    notices = session.scalars(select(Notification).where(Notification.type == "unit")).all()
    assert [n.profile_id for n in notices] == [ann.id]
    unit = session.get(Status, notices[0].status_id)
    assert unit is not None and unit.kind == "unit" and unit.visibility == "direct"
    assert "your next unit of" in unit.html and "/courses/" in unit.html and "/me/" not in unit.html
    assert [s.id for s in timelines.home(session, ann)] == [unit.id]
    assert statuses.can_see(session, unit, ann) and not statuses.can_see(session, unit, None)
