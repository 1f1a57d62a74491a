"""The documents a fediverse server reads of ours (issue 13, items 5 and 7): course Articles that
show in home timelines, actors with an avatar and their collections in pages, each member's copy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from courses.folder import import_course
from courses.groups import form_groups
from courses.models import Course, Enrollment, Post, StudyGroup
from courses.runs import create_run
from courses.signup import admin_enroll
from courses.versions import publish
from federation.flows.copies import copy_id
from federation.protocol.signatures import sign_request
from federation.protocol.vocabulary import PUBLIC
from federation.transport.fetch import store_actor
from server.floor import urls
from server.floor.clock import now
from server.floor.events import publish as publish_event
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.federation.conftest import Remote
from tests.federation.flows_support import GENTLE, course_and_run, deliveries, receive, remote_person

AP = {"Accept": "application/activity+json"}
STATIC = Path(__file__).parents[2] / "web" / "static"


@pytest.fixture
def site(settings: Settings, session: Session) -> Iterator[TestClient]:
    """The whole app with gentle-python published."""
    publish(session, import_course(session, GENTLE))
    session.commit()
    with TestClient(create_app(settings), base_url=settings.url) as client:
        yield client


def test_publishing_a_version_creates_its_article_for_home_timelines(session: Session) -> None:
    course, _run = course_and_run(session)
    course_id = urls.course(course.slug)
    person = remote_person(session, "ada")
    receive(session, {"id": f"{person.ap_id}#f", "type": "Follow", "actor": person.ap_id, "object": course_id})
    publish(session, course)
    # The Update refreshes the profile only; a Mastodon home feed takes statuses (the Create).
    ((_row, create),) = deliveries(session, "Create")
    article = create["object"]
    assert create["actor"] == course_id and create["to"] == [PUBLIC] and create["cc"] == [f"{course_id}/followers"]
    assert article["type"] == "Article" and article["id"] == f"{course_id}/versions/2"
    assert article["to"] == [PUBLIC] and article["published"] and article["attributedTo"] == course_id
    assert article["name"] == course.title and article["summary"] and course_id in article["content"]
    assert len(deliveries(session, "Update")) == 1


def test_the_unit_article_is_addressed_and_dated(site: TestClient) -> None:
    unit = site.get("/courses/gentle-python/units/welcome", headers=AP).json()
    assert unit["to"] == [PUBLIC] and unit["cc"] == [urls.course("gentle-python") + "/followers"]
    assert unit["published"].endswith("Z") and unit["attributedTo"] == urls.course("gentle-python")


def test_actors_have_an_avatar_a_date_and_featured_posts(site: TestClient) -> None:
    course = site.get("/courses/gentle-python", headers=AP).json()
    assert course["icon"]["type"] == "Image" and course["icon"]["mediaType"] == "image/png"
    assert course["icon"]["url"] == urls.absolute("/static/avatar.png") and (STATIC / "avatar.png").is_file()
    assert site.get("/static/avatar.png").headers["content-type"] == "image/png"
    assert course["published"].endswith("Z") and course["featured"] == urls.course("gentle-python") + "/featured"
    featured = site.get("/courses/gentle-python/featured", headers=AP).json()
    assert featured["type"] == "OrderedCollection" and featured["orderedItems"] == [] and featured["totalItems"] == 0
    assert site.get("/actor", headers=AP).json()["icon"]["url"].endswith("/static/avatar.png")


def test_collections_have_a_first_page(site: TestClient) -> None:
    base = urls.course("gentle-python")
    for part in ("outbox", "followers", "following"):
        collection = site.get(f"/courses/gentle-python/{part}", headers=AP).json()
        assert collection["type"] == "OrderedCollection" and collection["first"] == f"{base}/{part}?page=1"
        page = site.get(f"/courses/gentle-python/{part}?page=1", headers=AP).json()
        assert page["type"] == "OrderedCollectionPage" and page["partOf"] == f"{base}/{part}"
        assert page["orderedItems"] == [] and "next" not in page
    bad = site.get("/courses/gentle-python/outbox?page=0", headers=AP)
    assert bad.status_code == 400 and "page" in bad.json()["error"]


def test_a_members_copy_is_served_to_their_server_only(
    site: TestClient, session: Session, settings: Settings, remote: Remote
) -> None:
    course = session.scalar(select(Course).where(Course.slug == "gentle-python"))
    assert course is not None
    run = create_run(session, course, date(2030, 1, 7), "UTC", group_size=4)
    admin_enroll(session, run, "ann@example.org", "Ann")
    form_groups(session, run)
    bea = "https://social.example/users/bea"
    remote.actor(bea, preferredUsername="bea")
    store_actor(session, remote.documents[bea], bea)
    receive(session, {"id": f"{bea}#f", "type": "Follow", "actor": bea, "object": urls.run(run.handle)})
    group = session.scalar(select(StudyGroup).where(StudyGroup.run_id == run.id))
    member = session.scalar(select(Enrollment).where(Enrollment.actor == bea))
    assert group is not None and member is not None and member.group_id == group.id
    post = Post(group_id=group.id, run_id=run.id, source="email", author_name="Ann", text="Hello <b>you</b>")
    session.add(post)
    session.flush()
    publish_event(session, "post.created", {"post_id": post.id})
    session.commit()
    path = copy_id(post, member).removeprefix(settings.url)

    def get(signer: str | None) -> tuple[int, dict[str, object]]:
        headers = dict(AP)
        if signer is not None:
            headers |= sign_request(remote.keys[signer], "GET", settings.url + path, headers, b"", now())
        response = site.get(path, headers=headers)
        return response.status_code, response.json()

    status, note = get(bea)
    assert status == 200 and note["to"] == [bea] and note["tag"][0]["name"] == "@bea@social.example"
    # The unit note too is served as it was sent (no `name`: a content warning in GoToSocial).
    publish_event(session, "unit.due_for_actor", {"enrollment_id": member.id, "position": 0, "key": "unit:doc:0"})
    session.commit()
    (unit,) = [b["object"] for _r, b in deliveries(session, "Create") if "/posts/unit-" in b["object"]["id"]]
    path = unit["id"].removeprefix(settings.url)
    unit_status, served = get(bea)
    assert unit_status == 200 and "name" not in served and served["to"] == [bea] and served["cc"] == unit["cc"]
    path = copy_id(post, member).removeprefix(settings.url)
    (delivered,) = [
        body["object"] for _row, body in deliveries(session, "Create") if body["object"]["id"] == note["id"]
    ]
    assert {k: v for k, v in note.items() if k != "@context"} == delivered  # the note Bea's server got
    assert get(None)[0] == 401
    remote.actor("https://elsewhere.example/users/eve")
    assert get("https://elsewhere.example/users/eve")[0] == 404
