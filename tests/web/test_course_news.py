"""A course's news reaches the people who follow it here (issue 12, item 9: the home timeline shows
followed courses, runs and groups): a new version and a new run are statuses of the course's
profile in its followers' home feeds — the /home page and GET /api/v1/timelines/home — with a
`status` notification for those who rang the bell; nobody else gets them. Following a study group
one is not a member of shows none of its posts. On SQLite and PostgreSQL (the `settings` fixture)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from starlette.testclient import TestClient

from community import graph, people
from community.models import FeedEntry, Notification, Profile, Status
from courses import editor, news, profiles
from courses.models import Course, Post, Run, StudyGroup
from courses.posts import store_group_post
from courses.runs import create_run
from server.floor.accounts import Account
from server.floor.db import session_scope
from tests.api.test_both_backends import token_for
from tests.mail.conftest import gentle_run
from tests.web.conftest import log_in


def _profile(db, handle: str) -> Profile:  # type: ignore[no-untyped-def]
    account = db.scalar(select(Account).where(Account.handle == handle))
    assert account is not None
    return people.local_profile(db, account)


def _course(db, slug: str = "algebra-club", **values: str) -> Course:  # type: ignore[no-untyped-def]
    """A published course with one unit (version 1)."""
    course = editor.create_course(db, slug, "Algebra Club", **values)
    editor.add_unit(db, course, "Linear equations", 1, "Solve for x.")
    editor.publish(db, course)
    return course


def _home_page(client: TestClient, handle: str) -> str:
    client.cookies.clear()
    assert log_in(client, f"{handle}@example.org").status_code == 303
    page = client.get("/home")
    assert page.status_code == 200
    return page.text


def test_a_course_followers_read_its_new_version_and_new_run_at_home(client: TestClient) -> None:
    ann, zoe = token_for(client, "ann"), token_for(client, "zoe")
    with session_scope() as db:
        course = _course(db, summary="Equations, together.")
        author = profiles.course_profile(db, course)
        graph.follow(db, _profile(db, "ann"), author, notify_posts=True)
        author_id = author.id
    with session_scope() as db:
        course = db.scalars(select(Course).where(Course.slug == "algebra-club")).one()
        editor.update_course(db, course, summary="Equations and inequalities, together.")
        editor.publish(db, course)
    with session_scope() as db:
        course = db.scalars(select(Course).where(Course.slug == "algebra-club")).one()
        run = create_run(db, course, date(2027, 3, 1))
        run_handle = run.handle
    with session_scope() as db:
        statuses = db.scalars(select(Status).where(Status.profile_id == author_id).order_by(Status.id)).all()
        assert [s.kind for s in statuses] == ["announcement"] * 2  # version 1 came before any follower
        assert statuses[0].visibility == "public" and "has a new version (2)" in statuses[0].text
        assert "New run of Algebra Club" in statuses[1].text and statuses[1].run_id is not None
        assert len(db.scalars(select(Post).where(Post.kind == "announcement", Post.run_id.is_not(None))).all()) == 1
        news_ids = [str(s.id) for s in statuses]
    timeline = client.get("/api/v1/timelines/home", headers=ann).json()
    from_course = [s for s in timeline if s["account"]["acct"] == "algebra-club"]
    assert [s["id"] for s in from_course] == news_ids[::-1]
    assert from_course[0]["account"]["bot"] is True and "New run of" in from_course[0]["content"]
    assert from_course[0]["url"].endswith(f"/@algebra-club/{news_ids[1]}")
    assert "New run of" in client.get(f"/@algebra-club/{news_ids[1]}").text  # its page
    notified = client.get("/api/v1/notifications", headers=ann).json()
    assert sorted(n["status"]["id"] for n in notified if n["type"] == "status") == sorted(news_ids)
    assert client.get("/api/v1/timelines/home", headers=zoe).json() == []  # zoe follows nobody
    assert client.get("/api/v1/notifications", headers=zoe).json() == []
    page = _home_page(client, "ann")
    assert "has a new version (2)" in page and "New run of" in page and run_handle in page
    page = _home_page(client, "zoe")
    assert "has a new version" not in page and "New run of" not in page


def test_a_runs_followers_read_the_courses_news_too(client: TestClient) -> None:
    ann = token_for(client, "ann")
    with session_scope() as db:
        course = _course(db)
        run = create_run(db, course, date(2027, 3, 1))
        graph.follow(db, _profile(db, "ann"), profiles.run_profile(db, run))  # joined by following the run
    with session_scope() as db:
        course = db.scalars(select(Course).where(Course.slug == "algebra-club")).one()
        editor.publish(db, course)
    timeline = client.get("/api/v1/timelines/home", headers=ann).json()
    assert "has a new version (2)" in timeline[0]["content"] and timeline[0]["account"]["acct"] == "algebra-club"
    assert not [n for n in client.get("/api/v1/notifications", headers=ann).json() if n["type"] == "status"]


def test_a_run_announced_once_even_when_the_event_comes_again(client: TestClient) -> None:
    token_for(client, "ann")
    with session_scope() as db:
        course = _course(db)
        graph.follow(db, _profile(db, "ann"), profiles.course_profile(db, course))
        run = create_run(db, course, date(2027, 3, 1))
        news.on_run_created(db, {"run_id": run.id})
        run_id = run.id
    with session_scope() as db:
        assert len(db.scalars(select(Post).where(Post.run_id == run_id, Post.kind == "announcement")).all()) == 1


def test_a_course_nobody_follows_writes_no_news(client: TestClient) -> None:
    with session_scope() as db:
        course = _course(db)
        profiles.course_profile(db, course)  # looked up once, never followed
        run = create_run(db, course, date(2027, 3, 1))
        editor.publish(db, course)
        assert db.scalars(select(Post).where(Post.kind == "announcement")).all() == []
        assert run.id is not None


def test_following_a_study_group_shows_nothing_of_it_to_a_non_member(client: TestClient) -> None:
    ann, zoe = token_for(client, "ann"), token_for(client, "zoe")
    token_for(client, "bob")
    with session_scope() as db:
        run = gentle_run(db, [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC")])
        group = db.scalars(select(StudyGroup).where(StudyGroup.run_id == run.id)).one()
        group_profile = profiles.group_profile(db, group)
        graph.follow(db, _profile(db, "zoe"), group_profile, notify_posts=True)
        graph.follow(db, _profile(db, "ann"), group_profile)
        post = store_group_post(
            db,
            group,
            source="web",
            text="Our meeting link is secret-room-42",
            author_email="bob@example.org",
            author_name="Bob",
            author_account_id=_profile(db, "bob").account_id,
        )
        post_id, zoe_id, group_profile_id = post.id, _profile(db, "zoe").id, group_profile.id
        assert db.scalar(select(Run.id).where(Run.id == run.id)) is not None
    with session_scope() as db:
        assert db.scalar(select(FeedEntry).where(FeedEntry.profile_id == zoe_id)) is None
        assert db.scalar(select(Notification).where(Notification.profile_id == zoe_id)) is None
    member = client.get("/api/v1/timelines/home", headers=ann).json()
    assert [s["id"] for s in member] == [str(post_id)]  # a member reads it at home
    assert client.get("/api/v1/timelines/home", headers=zoe).json() == []
    assert client.get(f"/api/v1/statuses/{post_id}", headers=zoe).status_code == 404
    listed = client.get(f"/api/v1/accounts/{group_profile_id}/statuses", headers=zoe)
    assert "secret-room-42" not in listed.text
    assert "secret-room-42" not in _home_page(client, "zoe")
    assert "secret-room-42" in _home_page(client, "ann")
