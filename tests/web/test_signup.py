"""Signing up from the run page, the embeddable form and the JSON endpoint; double opt-in."""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

import json

from sqlalchemy import select
from starlette.testclient import TestClient

from courses.models import Enrollment
from server.floor.db import session_scope
from tests.web.coursepages import CONFIRM_LINK, World, outbox_texts, token_on, web, world  # noqa: F401


def sign_up(client: TestClient, run: str, **fields: str) -> object:
    """Post the run page's signup form as a browser would."""
    data = {"csrf_token": token_on(client, f"/runs/{run}"), "timezone": "Europe/Berlin", **fields}
    return client.post(f"/runs/{run}/signup", data=data, follow_redirects=False)


def confirm_link(email: str) -> str:
    """The path of the confirmation link in the last mail to `email`."""
    match = CONFIRM_LINK.search(outbox_texts(email)[-1])
    assert match, "no confirmation link in the mail"
    return f"/signup/confirm/{match.group(1)}"


def status_of(email: str) -> str:
    with session_scope() as db:
        return db.scalar(select(Enrollment.status).where(Enrollment.email == email)) or ""


def test_run_page_has_the_form_with_a_zone_select_and_the_solo_choice(world: World, web: TestClient) -> None:
    page = web.get(f"/runs/{world.run}").text
    assert '<select id="f-timezone" name="timezone" data-zone-picker data-detect-timezone' in page
    assert '<optgroup label="Pacific">' in page and '<option value="Pacific/Auckland"' in page
    assert '<option value="UTC" data-aliases="' in page and "selected>UTC (Coordinated" in page
    assert "I&#39;ll learn on my own" in page or "I'll learn on my own" in page
    assert 'name="handle"' in page and "forms.js" in page
    assert web.get(f"/runs/{world.run}").headers["x-frame-options"] == "DENY"


def test_signup_then_confirm_once(world: World, web: TestClient) -> None:
    response = sign_up(web, world.run, email="Nia@Example.org", name="Nia", solo="1")
    assert response.status_code == 303
    thanks = web.get(response.headers["location"])
    assert "Check your inbox" in thanks.text
    assert status_of("Nia@example.org") == "pending"
    link = confirm_link("nia@example.org")
    page = web.get(link)
    assert page.status_code == 200 and "Confirm my place" in page.text
    assert status_of("Nia@example.org") == "pending"  # a GET (a mail scanner) confirms nothing
    csrf = token_on(web, link)
    first = web.post(link, data={"csrf_token": csrf})
    assert first.status_code == 200 and "welcome" in first.text.lower()
    assert status_of("Nia@example.org") == "confirmed"
    second = web.post(link, data={"csrf_token": csrf})
    assert "already" in second.text.lower()
    assert "already" in web.get(link).text.lower()
    with session_scope() as db:
        assert db.scalar(select(Enrollment.solo).where(Enrollment.email == "Nia@example.org")) is True


def test_the_answer_never_reveals_who_signed_up(world: World, web: TestClient) -> None:
    first = sign_up(web, world.run, email="kim@example.org", name="Kim")
    web.post(confirm_link("kim@example.org"), data={"csrf_token": token_on(web, f"/runs/{world.run}")})
    assert status_of("kim@example.org") == "confirmed"
    again = sign_up(web, world.run, email="kim@example.org", name="Someone else")
    stranger = sign_up(web, world.run, email="new@example.org", name="Kim")
    assert first.status_code == again.status_code == stranger.status_code == 303
    assert again.headers["location"] == stranger.headers["location"]
    assert web.get(again.headers["location"]).text == web.get(stranger.headers["location"]).text
    with session_scope() as db:  # and a stranger cannot rename a confirmed learner
        assert db.scalar(select(Enrollment.name).where(Enrollment.email == "kim@example.org")) == "Kim"


def test_bad_fields_are_named_and_nothing_is_stored(world: World, web: TestClient) -> None:
    response = sign_up(web, world.run, email="not-an-address", name="X")
    assert response.status_code == 400
    assert 'id="f-email-error"' in response.text and "not-an-address" in response.text
    zone = sign_up(web, world.run, email="ok@example.org", timezone="Mars/Olympus")
    assert zone.status_code == 400 and "Mars/Olympus" in zone.text and 'id="f-timezone-error"' in zone.text
    empty = sign_up(web, world.run)
    assert empty.status_code == 400 and "fediverse handle" in empty.text
    with session_scope() as db:
        assert db.scalars(select(Enrollment)).all() == []


def test_json_endpoint_with_cors_and_no_cookies(world: World, web: TestClient) -> None:
    path = f"/api/runs/{world.run}/signup"
    preflight = web.options(
        path, headers={"Origin": "https://blog.example", "Access-Control-Request-Method": "POST",
                       "Access-Control-Request-Headers": "content-type"},
    )  # fmt: skip
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "content-type" in preflight.headers["access-control-allow-headers"].lower()
    body = {"email": "ray@example.org", "name": "Ray", "timezone": "Asia/Tokyo"}
    fresh = TestClient(web.app, base_url="http://testserver.localhost")
    answer = fresh.post(
        path, content=json.dumps(body), headers={"Content-Type": "application/json", "Origin": "https://blog.example"}
    )
    assert answer.status_code == 200 and answer.json()["ok"] is True
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "set-cookie" not in answer.headers
    again = fresh.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert again.json() == answer.json()
    assert status_of("ray@example.org") == "pending"
    bad = fresh.post(
        path, content=json.dumps({**body, "timezone": "Nowhere"}), headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and "timezone" in bad.json()["errors"]
    malformed = fresh.post(path, content=b"{", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    missing = fresh.post("/api/runs/no-such-run/signup", json=body)
    assert missing.status_code == 404 and missing.headers["access-control-allow-origin"] == "*"


def test_embed_page_may_be_framed_and_its_form_posts_without_a_session(world: World, web: TestClient) -> None:
    embed = web.get(f"/runs/{world.run}/embed")
    assert embed.status_code == 200 and "x-frame-options" not in embed.headers
    assert f'action="/api/runs/{world.run}/signup"' in embed.text and "csrf_token" not in embed.text
    assert "set-cookie" not in embed.headers
    third_party = TestClient(web.app, base_url="http://testserver.localhost")
    done = third_party.post(
        f"/api/runs/{world.run}/signup", data={"email": "emb@example.org", "name": "Em", "timezone": "UTC"}
    )
    assert done.status_code == 200 and "Check your inbox" in done.text
    assert "x-frame-options" not in done.headers and "set-cookie" not in done.headers
    assert status_of("emb@example.org") == "pending"


def test_an_unknown_confirmation_link_is_a_404_page(world: World, web: TestClient) -> None:
    response = web.get("/signup/confirm/no-such-token")
    assert response.status_code == 404 and "not valid" in response.text


def test_a_started_run_with_next_run_policy_sends_signups_to_the_next_run(world: World, web: TestClient) -> None:
    from courses.models import Course, Run
    from courses.runs import create_run
    from courses.versions import publish
    from tests.web.coursepages import start_in

    with session_scope() as db:
        course = db.scalar(select(Course).where(Course.slug == world.slug))
        course.late_join = "next_run"  # type: ignore[union-attr]
        publish(db, course)  # type: ignore[arg-type]
        started = create_run(db, course, start_in(-3), "UTC")  # type: ignore[arg-type]
        create_run(db, course, start_in(20), "UTC")  # type: ignore[arg-type]
        handles = started.handle, world.run  # the soonest run still open is the next one
        assert db.get(Run, started.id).status == "running"  # type: ignore[union-attr]
    page = web.get(f"/runs/{handles[0]}").text
    assert f"You will be signed up for the next one, starting {start_in(14).isoformat()}" in page
    assert sign_up(web, handles[0], email="late@example.org").status_code == 303
    with session_scope() as db:
        enrollment = db.scalar(select(Enrollment).where(Enrollment.email == "late@example.org"))
        assert enrollment is not None and enrollment.run.handle == handles[1]
