"""Unit ids lead somewhere: ActivityPub clients get the unit Article, browsers its page; 404s otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from courses.folder import import_course
from courses.forks import create_fork
from courses.models import Course
from courses.versions import publish
from federation.protocol.signatures import sign_request
from federation.protocol.unit_text import UnitFacts, rendered
from server.floor import urls
from server.floor.clock import now
from server.floor.config import use_settings
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.federation.conftest import Remote
from tests.federation.flows_support import GENTLE

AP = {"Accept": "application/activity+json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
TITLE = "A Gentle Introduction to Python"


@pytest.fixture
def site(settings: Settings, session: Session) -> Iterator[TestClient]:
    """The whole app (federation before the web pages) with gentle-python published as version 1."""
    publish(session, import_course(session, GENTLE))
    session.commit()
    with TestClient(create_app(settings), base_url=settings.url) as client:
        yield client


def test_unit_id_serves_the_article_mastodon_degrades_to(site: TestClient) -> None:
    response = site.get("/courses/gentle-python/units/welcome", headers=AP)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/activity+json")
    unit = response.json()
    assert unit["@context"][0] == "https://www.w3.org/ns/activitystreams"
    assert unit["type"] == "Article" and unit["id"] == urls.unit("gentle-python", "welcome")
    assert unit["name"] == "Welcome to your study group" and unit["url"] == unit["id"]
    assert unit["attributedTo"] == urls.course("gentle-python") and (unit["day"], unit["position"]) == (0, 0)
    # The teaser is plain text with merge tags filled neutrally: the default, the course's title, a phrase.
    assert unit["summary"].startswith(f"Hello there, Welcome to {TITLE}.") and len(unit["summary"]) <= 201
    assert "{{" not in unit["summary"] and "{{" not in unit["content"] and "<" not in unit["summary"]
    assert f"<strong>{TITLE}</strong>" in unit["content"] and "your study group's address" in unit["content"]
    assert "origin" not in unit and unit["source"]["content"].startswith("Hello {{ learner.name")


def test_course_document_embeds_units_with_summary_and_url(site: TestClient) -> None:
    course = site.get("/courses/gentle-python", headers=AP).json()
    for unit in course["units"]:
        assert unit["url"] == urls.unit("gentle-python", unit["slug"]) == unit["id"]
        assert unit["summary"] and "{{" not in unit["summary"]
    first = site.get("/courses/gentle-python/units/welcome", headers=AP).json()
    assert course["units"][0]["summary"] == first["summary"]


def test_unit_follows_the_current_published_version(site: TestClient, session: Session) -> None:
    course = session.query(Course).filter_by(slug="gentle-python").one()
    course.units[0].title = "Hello, group"
    session.commit()
    assert site.get("/courses/gentle-python/units/welcome", headers=AP).json()["name"] != "Hello, group"
    publish(session, course)
    session.commit()
    assert site.get("/courses/gentle-python/units/welcome", headers=AP).json()["name"] == "Hello, group"


def test_browsers_get_the_unit_page_and_the_outline_links_to_it(site: TestClient) -> None:
    page = site.get("/courses/gentle-python/units/welcome", headers=BROWSER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "<h1>Welcome to your study group</h1>" in text and "Day 0" in text
    assert f'<a href="/courses/gentle-python">{TITLE}</a>' in text
    assert f"<strong>{TITLE}</strong>" in text and "Hello there," in text and "{{" not in text
    assert 'href="/courses/gentle-python/units/welcome"' in site.get("/courses/gentle-python", headers=BROWSER).text


def test_unknown_units_and_courses_are_404(site: TestClient) -> None:
    for path in ("/courses/gentle-python/units/nope", "/courses/nope/units/welcome"):
        answer = site.get(path, headers=AP)
        assert answer.status_code == 404 and "error" in answer.json()
        assert site.get(path, headers=BROWSER).status_code == 404


def test_forked_units_point_at_their_origin_which_resolves(site: TestClient, session: Session) -> None:
    source = site.get("/courses/gentle-python", headers=AP).json()
    origin = urls.course("gentle-python")
    snapshot = publish(session, session.query(Course).filter_by(slug="gentle-python").one()).snapshot
    copied = [{**unit, "origin": urls.unit("gentle-python", unit["slug"])} for unit in snapshot["units"]]
    fork = create_fork(session, {**snapshot, "origin": origin, "units": copied}, origin_version=2, slug="gp-fork")
    session.commit()
    unit = site.get(f"/courses/{fork.slug}/units/welcome", headers=AP).json()
    assert unit["origin"] == source["units"][0]["id"] and unit["attributedTo"] == urls.course(fork.slug)
    assert site.get(unit["origin"].removeprefix(str(site.base_url)), headers=AP).status_code == 200
    page = site.get(f"/courses/{fork.slug}/units/welcome", headers=BROWSER).text
    assert f'Copied from <a href="{unit["origin"]}">' in page


def test_authorized_fetch_requires_a_signed_get(site: TestClient, settings: Settings, remote: Remote) -> None:
    use_settings(replace(settings, authorized_fetch=True))
    try:
        assert site.get("/courses/gentle-python/units/welcome", headers=AP).status_code == 401
        key = remote.actor("https://social.example/users/bob")
        url = urls.unit("gentle-python", "welcome")
        headers = AP | sign_request(key, "GET", url, AP | {"Host": settings.host}, None, now())
        assert site.get("/courses/gentle-python/units/welcome", headers=headers).status_code == 200
    finally:
        use_settings(settings)


def test_hostile_bodies_render_without_markup_or_tag_syntax() -> None:
    base = UnitFacts("C", "c", "", "https://a.example/courses/c", "U", 1, 0, "https://a.example/courses/c/units/u", "")
    for body in ("<script>alert(1)</script> {{ 1/0 }}", "{% if %} broken {{ learner.name", "{{ ''.__class__ }} hi"):
        content, teaser = rendered(replace(base, body=body))
        assert "<script" not in content and "{{" not in teaser and "{%" not in teaser and "__class__" not in content
    content, teaser = rendered(replace(base, body="Hi {{ learner.name }}, " + "word " * 100))
    assert teaser.startswith("Hi learner, word") and teaser.endswith("…") and len(teaser) <= 201
