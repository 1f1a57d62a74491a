"""Leaving a run asks first and can be undone from the same page while the run lasts and a seat is free;
moving to the next run says when it starts (issue 15, item 10)."""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from starlette.testclient import TestClient

from courses.models import Course, Enrollment, Run
from courses.runs import create_run
from courses.signup import admin_enroll
from server.floor.clock import frozen, now
from server.floor.db import session_scope
from tests.web.coursepages import World, start_in, token_on, web, world  # noqa: F401


def enroll(run: str, email: str) -> str:
    with session_scope() as db:
        return admin_enroll(db, db.scalar(select(Run).where(Run.handle == run)), email, name="Lee").token


def state(token: str) -> Enrollment:
    with session_scope() as db:
        place = db.scalar(select(Enrollment).where(Enrollment.token == token))
        assert place is not None
        db.expunge(place)
        return place


def test_leaving_asks_first_and_rejoining_undoes_it(world: World, web: TestClient) -> None:
    token = enroll(world.run, "lee@example.org")
    page = web.get(f"/me/{token}").text
    assert f'href="/me/{token}/leave"' in page and f'action="/me/{token}/leave"' not in page

    asked = web.get(f"/me/{token}/leave")
    assert asked.status_code == 200 and "Leave A Gentle Introduction to Python?" in asked.text
    assert "No more units come by mail." in asked.text and f'href="/me/{token}">Keep my place' in asked.text
    assert state(token).status == "confirmed"  # looking at the question changes nothing

    csrf = token_on(web, f"/me/{token}/leave")
    left = web.post(f"/me/{token}/leave", data={"csrf_token": csrf})
    assert state(token).status == "left" and state(token).next_due_at is None
    assert "Changed your mind? Rejoin below" in left.text
    assert f'action="/me/{token}/rejoin"' in left.text and "Rejoin this run" in left.text
    assert web.get(f"/me/{token}/leave", follow_redirects=False).status_code == 303  # nothing left to leave

    back = web.post(f"/me/{token}/rejoin", data={"csrf_token": csrf})
    assert "Welcome back" in back.text and f'href="/me/{token}/leave"' in back.text
    rejoined = state(token)
    assert rejoined.status == "confirmed" and rejoined.next_due_at is not None  # the units come again
    again = web.post(f"/me/{token}/rejoin", data={"csrf_token": csrf})  # another tab: nothing to undo
    assert again.status_code == 200 and state(token).status == "confirmed"
    assert web.post(f"/me/{token}/rejoin").status_code == 403  # no CSRF token


def test_no_rejoin_once_the_seat_went_to_the_waiting_list(world: World, web: TestClient) -> None:
    with session_scope() as db:
        db.scalar(select(Run).where(Run.handle == world.run)).capacity = 1  # type: ignore[union-attr]
    first, second = enroll(world.run, "one@example.org"), enroll(world.run, "two@example.org")
    assert state(second).status == "waitlisted"
    csrf = token_on(web, f"/me/{first}/leave")
    left = web.post(f"/me/{first}/leave", data={"csrf_token": csrf})
    assert state(second).status == "confirmed"  # promoted into the freed seat
    assert "Rejoin below" not in left.text and "You cannot rejoin" in left.text and "is full now" in left.text
    refused = web.post(f"/me/{first}/rejoin", data={"csrf_token": csrf})
    assert "is full now" in refused.text and state(first).status == "left"


def test_no_rejoin_after_the_run_ended(world: World, web: TestClient) -> None:
    token = enroll(world.run, "late@example.org")
    csrf = token_on(web, f"/me/{token}/leave")
    web.post(f"/me/{token}/leave", data={"csrf_token": csrf})
    with frozen(now() + timedelta(days=400)):
        refused = web.post(f"/me/{token}/rejoin", data={"csrf_token": csrf})
    assert "has ended" in refused.text and state(token).status == "left"


def test_moving_to_the_next_run_says_when_it_starts(world: World, web: TestClient) -> None:
    token = enroll(world.run, "mo@example.org")
    with session_scope() as db:
        course = db.scalar(select(Course).where(Course.slug == world.slug))
        following = create_run(db, course, start_in(60), "UTC")  # type: ignore[arg-type]
        start = following.start_date.isoformat()
    moved = web.post(f"/me/{token}/next", data={"csrf_token": token_on(web, f"/me/{token}")})
    assert f"Moved: your place is in the run starting {start}." in moved.text
