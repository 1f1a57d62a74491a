"""Public course pages, the learner's own page, "find my group" and the group archive."""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from courses.editor import update_unit
from courses.groups import form_groups
from courses.models import Course, Enrollment, Post, Run
from courses.runs import create_run
from courses.signup import admin_enroll
from courses.versions import publish
from server.floor.db import session_scope
from tests.web.coursepages import World, logged_in, outbox_texts, start_in, token_on, web, world  # noqa: F401


def learner(run: str, email: str, zone: str = "Europe/Paris") -> str:
    """Enroll `email` in `run` and return the magic-link token."""
    with session_scope() as db:
        enrollment = admin_enroll(db, db.scalar(select(Run).where(Run.handle == run)), email, name="Lee", timezone=zone)
        return enrollment.token


def test_catalogue_lists_courses_with_upcoming_runs(world: World, web: TestClient) -> None:
    home = web.get("/").text
    assert 'href="/courses/gentle-python"' in home and f'href="/runs/{world.run}"' in home
    assert "A Gentle Introduction to Python" in web.get("/courses").text
    with session_scope() as db:
        db.scalar(select(Run).where(Run.handle == world.run)).status = "finished"  # type: ignore[union-attr]
    assert "No courses are open yet." in web.get("/").text


def test_course_page_outline_license_resources_runs(world: World, web: TestClient) -> None:
    page = web.get("/courses/gentle-python")
    assert page.status_code == 200
    text = page.text
    assert "Day 0" in text and "Welcome to your study group" in text
    assert 'href="https://spdx.org/licenses/CC-BY-SA-4.0.html" rel="license"' in text
    assert "Codecademy: Learn Python" in text
    assert f'href="/runs/{world.run}#signup"' in text
    assert "No one has forked this course yet." in text
    assert "Fork this course" not in text  # anonymous visitors get no organizer buttons


def test_activitypub_requests_get_the_federation_document_not_the_page(world: World, web: TestClient) -> None:
    response = web.get("/courses/gentle-python", headers={"Accept": "application/activity+json"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/activity+json")
    assert response.json()["id"] == "http://testserver.localhost/courses/gentle-python"


def test_unpublished_course_is_hidden_from_the_public(world: World, web: TestClient) -> None:
    with session_scope() as db:
        db.add(Course(slug="draft-only", title="Secret draft"))
    assert web.get("/courses/draft-only").status_code == 404
    assert web.get("/courses/nothing-here").status_code == 404


def test_fork_shows_provenance_and_the_origin_lists_it(world: World, web: TestClient) -> None:
    logged_in(web, world.other)
    response = web.post("/courses/gentle-python/fork", data={"csrf_token": token_on(web, "/courses/gentle-python")},
                        follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    slug = response.headers["location"].rsplit("/", 1)[1]
    fork = web.get(f"/courses/{slug}").text
    assert "Where this course comes from" in fork
    assert 'href="http://testserver.localhost/courses/gentle-python"' in fork
    assert 'class="lineage"' in fork and "testserver.localhost · gentle-python" in fork
    origin = web.get("/courses/gentle-python").text
    assert f'href="http://testserver.localhost/courses/{slug}"' in origin
    assert "Upstream changed" not in fork
    with session_scope() as db:  # the origin publishes again: the fork's organizer is told
        origin_course = db.scalar(select(Course).where(Course.slug == "gentle-python"))
        update_unit(db, origin_course.units[0], body="A new welcome.")  # type: ignore[union-attr]
        publish(db, origin_course)  # type: ignore[arg-type]
    assert "Upstream changed" in web.get(f"/courses/{slug}").text
    diff = web.get(f"/courses/{slug}/upstream").text
    assert '<span class="add">+A new welcome.</span>' in diff
    pulled = web.post(f"/courses/{slug}/upstream", data={"csrf_token": token_on(web, f"/courses/{slug}/upstream")})
    assert pulled.status_code == 200
    assert "Upstream changed" not in web.get(f"/courses/{slug}").text
    with session_scope() as db:
        assert db.scalar(select(Course).where(Course.slug == slug)).units[0].body == "A new welcome."  # type: ignore[union-attr]


def test_learner_page_changes_pause_resume_move_leave(world: World, web: TestClient) -> None:
    token = learner(world.run, "lee@example.org")
    with session_scope() as db:
        course = db.scalar(select(Course).where(Course.slug == world.slug))
        following = create_run(db, course, start_in(60), "UTC")  # type: ignore[arg-type]
        following_handle = following.handle
    page = web.get(f"/me/{token}")
    assert page.status_code == 200 and "gentle-python" in page.text and "noindex" in page.text
    csrf = token_on(web, f"/me/{token}")

    def act(action: str, **data: str) -> str:
        response = web.post(f"/me/{token}/{action}", data={"csrf_token": csrf, **data})
        assert response.status_code == 200
        with session_scope() as db:
            enrollment = db.scalar(select(Enrollment).where(Enrollment.token == token))
            assert enrollment is not None
            return f"{enrollment.status} {enrollment.timezone} {enrollment.name} {enrollment.run.handle}"

    assert act("details", name="Lee Q", timezone="America/Denver") == f"confirmed America/Denver Lee Q {world.run}"
    assert act("pause").startswith("paused")
    assert act("resume").startswith("confirmed")
    assert act("next") == f"confirmed America/Denver Lee Q {following_handle}"
    assert act("leave").startswith("left")
    refused = web.post(f"/me/{token}/pause", data={"csrf_token": csrf})
    assert "sign up again" in refused.text  # an error named, as a flash, on the page
    assert web.post(f"/me/{token}/pause").status_code == 403  # no CSRF token
    assert web.get("/me/not-a-token").status_code == 404


def test_find_my_group_mails_links_and_never_reveals(world: World, web: TestClient) -> None:
    token = learner(world.run, "kai@example.org")
    csrf = token_on(web, "/find-my-group")
    known = web.post("/find-my-group", data={"csrf_token": csrf, "email": "kai@example.org"})
    unknown = web.post("/find-my-group", data={"csrf_token": csrf, "email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("kai@example.org", "X") == unknown.text.replace("nobody@example.org", "X")
    assert f"/me/{token}" in outbox_texts("kai@example.org")[-1]
    assert outbox_texts("nobody@example.org") == []


def test_group_page_archive_for_members_and_organizers_only(world: World, web: TestClient) -> None:
    tokens = [learner(world.run, f"m{n}@example.org") for n in range(3)]
    with session_scope() as db:
        run = db.scalar(select(Run).where(Run.handle == world.run))
        form_groups(db, run)  # type: ignore[arg-type]
        group = run.groups[0]  # type: ignore[union-attr]
        handle = group.handle
        db.add(Post(group_id=group.id, run_id=run.id, subject="Hello all", text="Week one!", author_name="M0"))  # type: ignore[union-attr]
        db.add(Post(group_id=group.id, subject="Spam", text="held one", held=True))
    public = web.get(f"/groups/{handle}").text
    assert f"{handle}@lists.example.org" in public and "Week one!" not in public
    member = web.get(f"/me/{tokens[0]}/group").text
    assert "Week one!" in member and "held one" not in member
    me_page = web.get(f"/me/{tokens[0]}").text
    assert f"mailto:{handle}@lists.example.org" in me_page
    logged_in(web, world.owner)
    organizer = web.get(f"/groups/{handle}").text
    assert "Week one!" in organizer and "held one" in organizer
    web.cookies.clear()
    logged_in(web, world.other)
    assert "Week one!" not in web.get(f"/groups/{handle}").text
