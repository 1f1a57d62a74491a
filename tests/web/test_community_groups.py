"""Posting to one's study group from the compose form, the group's timeline (members only), the
profile's opt-in list of groups, and `/users/{handle}` as HTML for browsers and JSON for ActivityPub."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from community.models import Profile, Status
from server.floor.db import session_scope
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.mail.conftest import gentle_run
from tests.web.community_world import person
from tests.web.conftest import csrf_of, log_in


def test_a_member_posts_to_the_group_from_compose_and_reads_its_timeline(
    client: TestClient, settings: Settings
) -> None:
    person("ann", "Ann")
    person("zoe", "Zoe")
    with session_scope() as db:
        run = gentle_run(db, [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC")])
        group = run.groups[0].handle if hasattr(run, "groups") else f"{run.handle}-g1"
        profile = db.scalar(select(Profile).where(Profile.username == "ann"))
        assert profile is not None
        profile.show_courses = True
    log_in(client, "ann@example.org")
    form = client.get("/compose")
    assert f'<option value="{group}"' in form.text
    token = csrf_of(client, "/compose")
    sent = client.post(
        "/compose",
        data={"csrf_token": token, "status": "Who wants to pair on unit 2?", "group": group, "visibility": "public"},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"].startswith(f"/groups/{group}#post-")
    with session_scope() as db:
        stored = db.scalars(select(Status).where(Status.text == "Who wants to pair on unit 2?")).one()
        assert stored.group_id is not None and stored.kind == "group"
    timeline = client.get(f"/groups/{group}/timeline")
    assert timeline.status_code == 200 and "Who wants to pair on unit 2?" in timeline.text
    assert f'href="/groups/{group}"' in client.get("/@ann").text  # she opted in to show her groups
    client.post("/logout", data={"csrf_token": token})
    log_in(client, "zoe@example.org")
    assert client.get(f"/groups/{group}/timeline").status_code == 404  # not a member
    token = csrf_of(client, "/compose")
    refused = client.post("/compose", data={"csrf_token": token, "status": "let me in", "group": group})
    assert refused.status_code == 400 and "only to a study group you belong to" in refused.text


def test_users_handle_is_a_page_for_browsers_and_an_actor_for_activitypub(settings: Settings) -> None:
    person("lena", "Lena")
    with TestClient(create_app(settings), base_url="http://testserver.localhost") as web:
        page = web.get("/users/lena", headers={"Accept": "text/html,application/xhtml+xml"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "Lena" in page.text
        actor = web.get("/users/lena", headers={"Accept": "application/activity+json"})
        assert actor.headers["content-type"].startswith("application/activity+json")
        assert web.get("/@lena").status_code == 200


def test_a_course_run_and_group_have_profiles_people_can_follow(client: TestClient, settings: Settings) -> None:
    person("ann", "Ann")
    with session_scope() as db:
        run = gentle_run(db, [("bob@example.org", "Bob", "UTC")])
        run_handle, course_slug = run.handle, run.course.slug
    course = client.get(f"/@{course_slug}")
    assert course.status_code == 200 and 'href="/courses/gentle-python"' in course.text
    assert client.get(f"/@{run_handle}").status_code == 200
    assert client.get(f"/@{run_handle}-g1").status_code == 200
    log_in(client, "ann@example.org")
    token = csrf_of(client, f"/@{course_slug}")
    assert client.post(f"/@{course_slug}/follow", data={"csrf_token": token}).status_code == 200
    assert ">Unfollow</button>" in client.get(f"/@{course_slug}").text
