"""A learner's data, from their page (issue 11, items 17 and 18): the JSON download, and "keep me in the group"
when their run's learners are about to be forgotten (a GET changes nothing, the POST records the consent)."""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from starlette.testclient import TestClient

from courses.groups import form_groups
from courses.models import Enrollment, Post, Run
from courses.runs import create_run, find_course
from courses.signup import admin_enroll
from mail.outbox import queue_system_mail
from server.floor.clock import now
from server.floor.db import session_scope
from tests.web.coursepages import World, start_in, token_on, web, world  # noqa: F401


def enrolled(run_handle: str, email: str, name: str, answers: dict | None = None) -> str:
    """Enroll `email` in the run, grouped; its magic-link token."""
    with session_scope() as db:
        run = db.scalar(select(Run).where(Run.handle == run_handle))
        assert run is not None
        place = admin_enroll(db, run, email, name=name, timezone="Europe/Paris")
        place.answers = answers or {}
        form_groups(db, run)
        return place.token


def test_a_learner_downloads_their_data_and_only_theirs(world: World, web: TestClient) -> None:
    token = enrolled(world.run, "lea@example.org", "Léa", {"why": "to automate my garden"})
    enrolled(world.run, "max@example.org", "Max")
    with session_scope() as db:
        later = create_run(db, find_course(db, "gentle-python"), start_in(60), "UTC")
        other_run = later.handle
    enrolled(other_run, "lea@example.org", "Léa")
    with session_scope() as db:
        place = db.scalar(select(Enrollment).where(Enrollment.token == token))
        assert place is not None and place.group_id is not None
        db.add(Post(group_id=place.group_id, run_id=place.run_id, author_email="Lea@Example.org", text="Hi all"))
        db.add(Post(group_id=place.group_id, run_id=place.run_id, author_email="max@example.org", text="Max here"))
        queue_system_mail(db, "lea@example.org", "Your study group links", "links")
        queue_system_mail(db, "max@example.org", "Your study group links (Max)", "links")

    page = web.get(f"/me/{token}")
    assert f'href="/me/{token}/data.json"' in page.text and "Download my data" in page.text
    response = web.get(f"/me/{token}/data.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == f'attachment; filename="mechmooc-{world.run}-data.json"'
    assert response.headers["cache-control"] == "no-store"
    data = json.loads(response.content)
    assert [(p["run"], p["name"], p["email"]) for p in data["places"]] == [
        (world.run, "Léa", "lea@example.org"),
        (other_run, "Léa", "lea@example.org"),
    ]
    assert data["places"][0]["answers"] == {"why": "to automate my garden"} and data["places"][0]["group"]["address"]
    assert [post["text"] for post in data["posts"]] == ["Hi all"]
    assert {mail["subject"] for mail in data["mails"]} == {"Your study group links"}
    assert all(mail["status"] == "queued" and mail["date"] for mail in data["mails"])
    assert "max@example.org" not in response.text and "Max here" not in response.text
    assert web.get("/me/not-a-token/data.json").status_code == 404


def test_keep_me_in_the_group_asks_on_get_and_records_the_consent_on_post(world: World, web: TestClient) -> None:
    token = enrolled(world.run, "noa@example.org", "Noa")
    keep = f"/me/{token}/keep"
    # While the run goes on there is nothing to decide yet.
    assert "stays open while the run goes on" in web.get(keep).text
    refused = web.post(
        keep, data={"csrf_token": token_on(web, f"/me/{token}"), "choice": "stay"}, follow_redirects=True
    )
    assert "you will be asked before it closes" in refused.text
    closes = now() + timedelta(days=14)
    with session_scope() as db:
        run = db.scalar(select(Run).where(Run.handle == world.run))
        run.status, run.anonymise_at = "finished", closes  # type: ignore[union-attr]

    def consent() -> object:
        with session_scope() as db:
            return db.scalar(select(Enrollment.keep_consent_at).where(Enrollment.token == token))

    page = web.get(keep)
    assert "Keep me in the group" in page.text and closes.strftime("%Y-%m-%d") in page.text
    assert consent() is None  # opening the link (a mail scanner does) changes nothing
    assert "closes for you on" in web.get(f"/me/{token}").text
    assert web.post(keep, data={"choice": "stay"}).status_code == 403  # no CSRF token
    bad = web.post(keep, data={"csrf_token": token_on(web, f"/me/{token}"), "choice": "everything"})
    assert bad.status_code == 400 and "is not one of stay, leave" in bad.text and consent() is None
    done = web.post(keep, data={"csrf_token": token_on(web, f"/me/{token}"), "choice": "stay"}, follow_redirects=False)
    assert done.status_code == 303 and consent() is not None
    assert "You stay in" in web.get(keep).text and "You stay in your group" in web.get(f"/me/{token}").text
    undone = web.post(
        keep, data={"csrf_token": token_on(web, f"/me/{token}"), "choice": "leave"}, follow_redirects=False
    )
    assert undone.status_code == 303 and consent() is None
    assert web.post("/me/not-a-token/keep", data={"csrf_token": token_on(web, f"/me/{token}")}).status_code == 404
