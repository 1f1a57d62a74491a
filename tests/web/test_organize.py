"""The organizer's editor and run pages: permissions, editing, publishing, scheduling, CSV in and out."""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

import csv
import io
import zipfile

from sqlalchemy import func, select
from starlette.testclient import TestClient

from courses.models import Enrollment, Run
from courses.signup import admin_enroll
from server.floor.db import session_scope
from tests.web.coursepages import (  # noqa: F401
    GENTLE,
    World,
    course_row,
    logged_in,
    outbox_texts,
    start_in,
    token_on,
    web,
    world,
)


def post(client: TestClient, path: str, data: dict[str, str] | None = None, page: str = "/organize", **kwargs: object):  # type: ignore[no-untyped-def]
    """POST a form with the CSRF token from `page`."""
    return client.post(
        path, data={"csrf_token": token_on(client, page), **(data or {})}, follow_redirects=False, **kwargs
    )  # type: ignore[arg-type]


def enroll(run: str, email: str, zone: str = "Europe/Paris") -> None:
    with session_scope() as db:
        admin_enroll(
            db, db.scalar(select(Run).where(Run.handle == run)), email, name=email.split("@")[0], timezone=zone
        )


def enrolled(run: str) -> int:
    with session_scope() as db:
        query = select(func.count()).select_from(Enrollment).join(Run).where(Run.handle == run)
        return int(db.scalar(query) or 0)


def test_organizer_b_cannot_see_or_change_organizer_a_things(world: World, web: TestClient) -> None:
    enroll(world.run, "secret@example.org")
    logged_in(web, world.other)
    for path in (f"/organize/runs/{world.run}", f"/organize/runs/{world.run}/learners.csv",
                 f"/organize/runs/{world.run}/import", f"/organize/courses/{world.slug}"):  # fmt: skip
        response = web.get(path)
        assert response.status_code in (403, 404), path
        assert "secret@example.org" not in response.text
    refused = post(web, f"/organize/courses/{world.slug}/publish")
    assert refused.status_code == 403
    assert world.slug not in web.get("/organize").text
    assert "secret@example.org" not in web.get(f"/runs/{world.run}").text


def test_owner_and_admin_see_learners_and_anonymous_visitors_log_in(world: World, web: TestClient) -> None:
    enroll(world.run, "secret@example.org")
    assert web.get(f"/organize/runs/{world.run}", follow_redirects=False).status_code == 303
    logged_in(web, world.owner)
    assert "secret@example.org" in web.get(f"/organize/runs/{world.run}").text
    web.cookies.clear()
    logged_in(web, world.admin)
    assert "secret@example.org" in web.get(f"/organize/runs/{world.run}").text


def test_create_course_add_reorder_delete_units_preview_publish_schedule(world: World, web: TestClient) -> None:
    logged_in(web, world.other)
    fields = {"slug": "knitting", "title": "Knitting together", "summary": "Socks.", "language": "en",
              "license": "CC-BY-4.0", "tags": "craft, wool", "send_time": "08:30", "late_join": "catch_up",
              "group_size": "12", "group_by": "timezone, level",
              "questions": "level | Your level | choice | new, some | required", "resources": "Yarn | https://yarn.example"}  # fmt: skip
    assert post(web, "/organize/courses/new", fields).headers["location"] == "/organize/courses/knitting"
    base = "/organize/courses/knitting"
    for title, day in (("Cast on", "0"), ("Purl", "7"), ("Socks", "14")):
        body = f"Hello {{{{ learner.name }}}}, this is **{title}**."
        assert post(web, f"{base}/units/new", {"title": title, "day": day, "body": body}).status_code == 303
    assert [u.slug for u in course_row("knitting").units] == ["cast-on", "purl", "socks"]
    post(web, f"{base}/units/socks/move", {"direction": "up"})
    post(web, f"{base}/units/cast-on/move", {"direction": "up"})  # first already: nothing moves
    assert [u.slug for u in course_row("knitting").units] == ["cast-on", "socks", "purl"]
    post(web, f"{base}/units/purl/delete")
    assert [u.slug for u in course_row("knitting").units] == ["cast-on", "socks"]
    preview = post(web, f"{base}/preview", {"title": "Cast on", "day": "0", "body": "Hi {{ learner.name }}, *wool*"})
    assert preview.status_code == 200 and "Hi Ada, <em>wool</em>" in preview.text
    fragment = post(web, f"{base}/preview", {"body": "{{ nope.x }}", "fragment": "1"})
    assert 'role="alert"' in fragment.text and "<html" not in fragment.text
    bad = post(web, f"{base}/units/new", {"title": "Broken", "day": "3", "body": "{% if %}"})
    assert bad.status_code == 400 and "does not render" in bad.text
    assert post(web, f"{base}/publish").status_code == 303
    page = web.get(base).text
    assert "Version 1 ·" in page and "Publish version 2" in page
    course = course_row("knitting")
    assert course.license == "CC-BY-4.0" and course.tags == ["craft", "wool"] and course.group_size == 12
    assert course.questions[0]["choices"] == ["new", "some"] and course.group_by == ["timezone", "level"]
    run = post(web, f"{base}/runs/new", {"start": start_in(10).isoformat(), "timezone": "America/Chicago",
                                         "every_weeks": "2", "capacity": "30", "group_size": "10"})  # fmt: skip
    assert run.status_code == 303
    handle = run.headers["location"].rsplit("/", 1)[1]
    with session_scope() as db:
        created = db.scalar(select(Run).where(Run.handle == handle))
        assert created is not None and created.every_weeks == 2 and created.capacity == 30
        assert created.timezone == "America/Chicago" and created.version_number == 1
    signup = web.get(f"/runs/{handle}").text
    assert "Your level" in signup and 'value="new"' in signup


def test_editor_errors_name_the_field_and_save_nothing(world: World, web: TestClient) -> None:
    logged_in(web, world.owner)
    path = f"/organize/courses/{world.slug}"
    form = {"title": "New title", "language": "en", "license": "NOT-A-LICENSE", "send_time": "09:00",
            "late_join": "catch_up", "group_size": "20", "group_by": "timezone"}  # fmt: skip
    response = post(web, path, form)
    assert response.status_code == 400 and 'id="f-license-error"' in response.text
    assert course_row(world.slug).title == "A Gentle Introduction to Python"
    late = post(web, f"{path}/runs/new", {"start": "2026-02-30", "timezone": "UTC"})
    assert late.status_code == 400 and "start" in late.text


def test_move_learner_between_groups(world: World, web: TestClient) -> None:
    for number in range(6):
        enroll(world.run, f"l{number}@example.org", "Europe/Paris" if number < 3 else "Asia/Tokyo")
    logged_in(web, world.owner)
    post(web, f"/organize/runs/{world.run}/group", page=f"/organize/runs/{world.run}")
    with session_scope() as db:
        run = db.scalar(select(Run).where(Run.handle == world.run))
        groups = [g.handle for g in run.groups]
        learner = db.scalar(select(Enrollment).where(Enrollment.email == "l0@example.org"))
        assert learner is not None and learner.group is not None
        target = next(h for h in groups if h != learner.group.handle) if len(groups) > 1 else groups[0]
        learner_id = learner.id
    response = post(web, f"/organize/runs/{world.run}/move", {"enrollment": str(learner_id), "group": target})
    assert response.status_code == 303
    with session_scope() as db:
        assert db.get(Enrollment, learner_id).group.handle == target  # type: ignore[union-attr]


def test_export_csv_has_the_learners_and_defuses_formulas(world: World, web: TestClient) -> None:
    enroll(world.run, "ann@example.org")
    with session_scope() as db:
        db.scalar(select(Enrollment).where(Enrollment.email == "ann@example.org")).name = "=HYPERLINK(1)"  # type: ignore[union-attr]
    logged_in(web, world.owner)
    response = web.get(f"/organize/runs/{world.run}/learners.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0]["email"] == "ann@example.org" and rows[0]["name"] == "'=HYPERLINK(1)"
    assert rows[0]["status"] == "confirmed"


def test_csv_import_previews_then_imports_all_or_nothing(world: World, web: TestClient) -> None:
    logged_in(web, world.owner)
    path = f"/organize/runs/{world.run}/import"
    good = "email,name,timezone\numa@example.org,Uma,Asia/Kolkata\nvic@example.org,Vic,America/Lima\n"
    bad = good + "broken-address,Bo,UTC\nwes@example.org,Wes,Mars/Base\n"
    preview = post(web, path, {"text": bad}, page=path)
    assert preview.status_code == 400
    assert "broken-address" in preview.text and "Mars/Base" in preview.text
    assert "<td>4</td>" in preview.text and "<td>5</td>" in preview.text  # errors by line
    assert "import/confirm" not in preview.text
    assert enrolled(world.run) == 0
    refused = post(web, f"{path}/confirm", {"text": bad}, page=path)  # a forged confirm: still all or nothing
    assert refused.status_code == 400 and enrolled(world.run) == 0
    upload = post(web, path, page=path, files={"file": ("learners.csv", good.encode(), "text/csv")})
    # An organizer's import invites: each person confirms by mail (tests/security/test_organizer_reach.py).
    assert (
        upload.status_code == 200 and "<strong>2</strong> people will get a mail asking them to confirm" in upload.text
    )
    assert 'name="basis"' not in upload.text  # enrolling without confirmation is for admins
    assert enrolled(world.run) == 0
    done = post(web, f"{path}/confirm", {"text": good}, page=path)
    assert done.status_code == 303 and enrolled(world.run) == 2
    with session_scope() as db:
        assert set(db.scalars(select(Enrollment.status))) == {"pending"}
    assert "/signup/confirm/" in outbox_texts("uma@example.org")[0]


def test_course_zip_upload(world: World, web: TestClient) -> None:
    logged_in(web, world.other)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in GENTLE.rglob("*"):
            if file.is_file():
                text = file.read_text().replace('slug = "gentle-python"', 'slug = "gentle-two"')
                archive.writestr(f"gentle-two/{file.relative_to(GENTLE).as_posix()}", text)
    response = post(web, "/organize/import", page="/organize/import",
                    files={"archive": ("gentle.zip", buffer.getvalue(), "application/zip")})  # fmt: skip
    assert response.status_code == 303 and response.headers["location"] == "/organize/courses/gentle-two"
    assert len(course_row("gentle-two").units) == 7
    broken = post(
        web, "/organize/import", page="/organize/import", files={"archive": ("x.zip", b"not a zip", "application/zip")}
    )
    assert broken.status_code == 400 and "x.zip: not a zip file" in broken.text


def test_admin_anonymises_finished_runs_organizers_may_not(world: World, web: TestClient) -> None:
    enroll(world.run, "old@example.org")
    with session_scope() as db:
        run = db.scalar(select(Run).where(Run.handle == world.run))
        run.status, run.start_date = "finished", start_in(-400)  # type: ignore[union-attr]
    logged_in(web, world.owner)
    assert web.get("/organize/privacy").status_code == 403
    web.cookies.clear()
    logged_in(web, world.admin)
    assert world.run in web.get("/organize/privacy").text
    done = post(web, "/organize/privacy", {"days": "30"}, page="/organize/privacy")
    assert done.status_code == 303
    with session_scope() as db:
        emails = db.scalars(select(Enrollment.email)).all()
        assert emails and all(e.endswith("@anonymised.invalid") for e in emails)  # type: ignore[union-attr]
    assert "old@example.org" not in web.get(f"/organize/runs/{world.run}").text
