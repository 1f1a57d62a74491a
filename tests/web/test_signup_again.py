"""Signing up again re-sends the confirmation (at most three a day per address) and changes nothing else;
the learner's language comes from the form and the JSON API (issue 11, items 4 and 6)."""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from starlette.testclient import TestClient

from courses.models import Enrollment
from server.floor.clock import frozen, now
from server.floor.db import session_scope
from tests.web.coursepages import World, outbox_texts, token_on, web, world  # noqa: F401
from tests.web.test_signup import confirm_link, sign_up


def place(email: str) -> Enrollment:
    with session_scope() as db:
        found = db.scalar(select(Enrollment).where(Enrollment.email == email))
        assert found is not None
        db.expunge(found)
        return found


def test_signing_up_again_mails_the_link_again_without_changing_the_place(world: World, web: TestClient) -> None:
    assert sign_up(web, world.run, email="lou@example.org", name="Lou").status_code == 303
    again = sign_up(web, world.run, email="lou@example.org", name="Mallory", timezone="Pacific/Auckland")
    assert again.status_code == 303
    mails = outbox_texts("lou@example.org")
    assert len(mails) == 2 and confirm_link("lou@example.org") in mails[0]  # the same link, mailed again
    kept = place("lou@example.org")
    assert (kept.name, kept.timezone, kept.status) == ("Lou", "Europe/Berlin", "pending")
    # A third is sent; a fourth within the day is not, and the form answers the same.
    assert sign_up(web, world.run, email="lou@example.org").status_code == 303
    fourth = sign_up(web, world.run, email="lou@example.org")
    assert fourth.status_code == 303 and len(outbox_texts("lou@example.org")) == 3
    with frozen(now() + timedelta(days=1, minutes=1)):
        sign_up(web, world.run, email="lou@example.org")
    assert len(outbox_texts("lou@example.org")) == 4


def test_after_leaving_a_new_signup_mails_a_link_that_brings_them_back(world: World, web: TestClient) -> None:
    sign_up(web, world.run, email="max@example.org", name="Max")
    web.post(confirm_link("max@example.org"), data={"csrf_token": token_on(web, f"/runs/{world.run}")})
    token = place("max@example.org").token
    left = web.post(f"/me/{token}/leave", data={"csrf_token": token_on(web, f"/me/{token}")})
    assert left.status_code in (200, 303) and place("max@example.org").status == "left"
    before = len(outbox_texts("max@example.org"))
    sign_up(web, world.run, email="max@example.org", name="Someone")
    assert len(outbox_texts("max@example.org")) == before + 1
    assert place("max@example.org").name == "Max"
    web.post(confirm_link("max@example.org"), data={"csrf_token": token_on(web, f"/runs/{world.run}")})
    assert place("max@example.org").status == "confirmed"


def test_language_from_the_form_and_the_json_api(world: World, web: TestClient) -> None:
    page = web.get(f"/runs/{world.run}").text
    assert 'name="language"' in page and "study groups are formed by language too" in page
    assert sign_up(web, world.run, email="noe@example.org", language="fr").status_code == 303
    assert place("noe@example.org").language == "fr"
    api = f"/api/runs/{world.run}/signup"
    answer = web.post(api, json={"email": "ines@example.org", "timezone": "Europe/Madrid", "language": "es"})
    assert answer.status_code == 200 and place("ines@example.org").language == "es"
    bad = web.post(api, json={"email": "zed@example.org", "timezone": "UTC", "language": "not a language"})
    assert bad.status_code == 400 and "language" in bad.json()["errors"]
    form = sign_up(web, world.run, email="zed@example.org", language="<b>")
    assert form.status_code == 400 and 'id="f-language-error"' in form.text
    assert web.post(api, json={"email": "una@example.org", "timezone": "UTC"}).status_code == 200
    assert place("una@example.org").language == "en"  # the course's own
