"""The standing alumni community of a course (issue 13): who may join, that it is a study group like any
other (its list relays mail to members), and that joining it starts no unit sequence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.alumni import alumni_group, join_alumni, may_join
from courses.models import CourseFork, Enrollment, Post
from mail.inbound import receive
from server.floor import urls
from server.floor.clock import frozen
from server.floor.errors import Invalid
from server.floor.events import DomainEvent
from tests.mail.conftest import gentle_run


def test_past_learners_and_forking_instances_join_strangers_do_not(session: Session) -> None:
    with frozen(datetime(2026, 3, 1, tzinfo=UTC)):
        run = gentle_run(session, [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC")])
    for place in session.scalars(select(Enrollment).where(Enrollment.run_id == run.id)):
        place.confirmed_at = datetime(2026, 3, 1, tzinfo=UTC)
    course = run.course
    session.add(CourseFork(course_id=course.id, fork_id="https://fork.example/courses/python-fork"))
    session.flush()
    group = alumni_group(session, course)
    assert group.handle == "gentle-python-alumni" and group.run.status == "alumni"
    assert alumni_group(session, course).id == group.id  # one per course
    assert may_join(session, course, email="ann@example.org")
    assert may_join(session, course, actor="https://fork.example/users/zed")  # an instance that forked it
    assert not may_join(session, course, email="eve@example.org")
    assert not may_join(session, course, actor="https://elsewhere.example/users/eve")
    with pytest.raises(Invalid, match="alumni community is for people who took part"):
        join_alumni(session, course, email="eve@example.org")
    events = session.query(DomainEvent).count()
    ann = join_alumni(session, course, email="ann@example.org", name="Ann")
    assert join_alumni(session, course, email="ann@example.org").id == ann.id  # once
    join_alumni(session, course, email="bob@example.org", name="Bob")
    assert session.query(DomainEvent).count() == events  # no enrollment.confirmed: no units
    assert ann.group_id == group.id and ann.next_due_at is None and ann.status == "confirmed"
    session.commit()

    # It is a study group: Ann's mail to its list is posted and relayed to Bob by mail.
    raw = (b"From: Ann <ann@example.org>\r\nTo: gentle-python-alumni@" + urls.group_address("x").split("@")[1].encode()
           + b"\r\nSubject: Reunion\r\nMessage-ID: <reunion@example.org>\r\n\r\nWho is still coding?\r\n")  # fmt: skip
    outcome = receive(raw, [urls.group_address(group.handle)])
    assert outcome[0] in ("posted", "held: sender not authenticated")
    post = session.scalar(select(Post).where(Post.group_id == group.id))
    assert post is not None and post.subject == "Reunion"
