"""Forks of course templates: provenance kept, first version published, upstream changes pulled on demand."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses import forks
from courses.models import Course, CourseVersion
from server.floor.errors import Invalid
from server.floor.events import DomainEvent
from tests.federation.test_vocabulary import gentle_python

ORIGIN = "https://a.example/courses/gentle-python"


def remote_snapshot() -> dict[str, Any]:
    """gentle-python as fetched from instance A, provenance filled in as federation.flows.forks does."""
    snapshot = gentle_python()
    snapshot["origin"] = ORIGIN
    snapshot["lineage"] = [ORIGIN]
    for unit in snapshot["units"]:
        unit["origin"] = f"{ORIGIN}/units/{unit['slug']}"
    return snapshot


def test_fork_is_a_published_local_course_with_provenance(session: Session) -> None:
    course = forks.create_fork(session, remote_snapshot(), origin_version=2)
    session.commit()
    assert course.slug == "gentle-python" and course.origin == ORIGIN and course.lineage == [ORIGIN]
    assert course.origin_version == 2 and course.upstream_version == 2 and course.current_version == 1
    assert [u.origin for u in course.units] == [f"{ORIGIN}/units/{u.slug}" for u in course.units]
    version = session.scalar(select(CourseVersion).where(CourseVersion.course_id == course.id))
    assert version is not None and version.snapshot["origin"] == ORIGIN
    names = list(session.scalars(select(DomainEvent.name).order_by(DomainEvent.id)))
    assert names[-2:] == ["course.published", "course.forked"]


def test_fork_slug_is_chosen_or_refused_when_taken(session: Session) -> None:
    forks.create_fork(session, remote_snapshot(), origin_version=1)
    second = forks.create_fork(session, remote_snapshot(), origin_version=1)
    assert second.slug == "gentle-python-2"
    with pytest.raises(Invalid, match="--slug 'gentle-python' is already"):
        forks.create_fork(session, remote_snapshot(), origin_version=1, slug="gentle-python")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(license="Not-A-License"), "license 'Not-A-License'"),
        (lambda s: s["units"][1].update(day=-3), r"units\[1\].day -3"),
        (lambda s: s["units"][2].update(body="{{ nonsense.x }}"), r"units\[2\] \(conditionals\) body line 1"),
        (lambda s: s.update(units=[]), "at least one unit"),
        (lambda s: s.update(origin=None), "origin"),
    ],
)
def test_bad_remote_data_is_refused_naming_the_field_and_nothing_is_written(
    session: Session, change: Any, message: str
) -> None:
    snapshot = remote_snapshot()
    change(snapshot)
    with pytest.raises(Invalid, match=message):
        forks.create_fork(session, snapshot, origin_version=1)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Course)) == 0


def test_upstream_change_is_diffed_and_pulled_only_when_asked(session: Session) -> None:
    course = forks.create_fork(session, remote_snapshot(), origin_version=1)
    upstream = copy.deepcopy(remote_snapshot())
    upstream["title"] = "A Gentle Introduction to Python 3"
    upstream["units"][1]["body"] = upstream["units"][1]["body"].replace("surprised", "puzzled")
    upstream["units"].append({**upstream["units"][2], "slug": "loops", "title": "Week 3: Loops", "day": 21})
    assert forks.record_upstream(session, course, 2) is True
    assert forks.record_upstream(session, course, 2) is False
    assert forks.has_upstream_change(course)
    before = [u.body for u in course.units]
    diff = forks.upstream_diff(course, upstream)
    assert "-A Gentle Introduction to Python\n+A Gentle Introduction to Python 3" in diff
    assert "+++ b/units/loops" in diff and "+title: Week 3: Loops" in diff
    assert "-- Discuss with {{ group.address }}: what surprised you" in diff
    assert [u.body for u in course.units] == before  # nothing merged by looking
    forks.pull_upstream(session, course, upstream, 2)
    session.commit()
    assert course.title.endswith("Python 3") and [u.slug for u in course.units][-1] == "loops"
    assert course.origin_version == 2 and not forks.has_upstream_change(course) and course.draft_changed
    assert forks.upstream_diff(course, upstream) == ""
