"""The course pages in a real browser: signup with its emailed confirmation, and the organizer's editor."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from courses.folder import import_course
from courses.models import Course, Enrollment, Run
from courses.runs import create_run
from server.floor.accounts import create_account
from server.floor.db import session_scope
from tests.support.browser import ACTION_TIMEOUT_MS, LiveServer
from tests.web.coursepages import CONFIRM_LINK, GENTLE, PASSWORD, outbox_texts, start_in

pytestmark = pytest.mark.browser
# Screenshots for people to look at (set MECHMOOC_SCREENSHOTS=DIR); the tests do not need them.
SHOTS = os.environ.get("MECHMOOC_SCREENSHOTS")


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot when MECHMOOC_SCREENSHOTS names a folder."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def tokyo_page(chromium: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A page in a browser that says its time zone is Asia/Tokyo."""
    context = chromium.new_context(viewport={"width": 1100, "height": 800}, timezone_id="Asia/Tokyo")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def open_run(live_server: LiveServer) -> str:
    """gentle-python with a run starting in two weeks; its handle."""
    with session_scope() as db:
        course = import_course(db, GENTLE)
        return create_run(db, course, start_in(14), "Europe/Paris").handle


def test_signup_detects_the_zone_and_confirms_by_the_mailed_link(
    live_server: LiveServer, tokyo_page: Page, open_run: str
) -> None:
    page = tokyo_page
    page.goto(f"{live_server.url}/courses/gentle-python")
    shot(page, "course-page")
    page.get_by_role("link", name=re.compile("Sign up")).first.click()
    expect(page.get_by_label("Your time zone")).to_have_value("Asia/Tokyo")  # chosen by the script
    shot(page, "signup-form")
    page.get_by_label("Email address").fill("mei@example.org")
    page.get_by_label("Your name").fill("Mei")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Almost there")).to_be_visible()
    link = CONFIRM_LINK.search(outbox_texts("mei@example.org")[-1])
    assert link is not None
    page.goto(live_server.url + link.group(0))
    page.get_by_role("button", name="Confirm my place").click()
    expect(page.get_by_role("heading", name="You are in")).to_be_visible()
    page.get_by_role("link", name="Your page").click()
    expect(page.get_by_role("heading", name="Hello, Mei")).to_be_visible()
    shot(page, "learner-page")
    page.goto(f"{live_server.url}/runs/{open_run}/embed")
    shot(page, "embed")
    with session_scope() as db:
        enrollment = db.scalar(select(Enrollment).where(Enrollment.email == "mei@example.org"))
        assert enrollment is not None and enrollment.status == "confirmed" and enrollment.timezone == "Asia/Tokyo"


def test_editor_create_units_reorder_preview_publish_schedule(live_server: LiveServer, browser_page: Page) -> None:
    with session_scope() as db:
        create_account(db, "olga@example.org", PASSWORD, role="organizer")
    page = browser_page
    page.goto(f"{live_server.url}/login?next=/organize")
    page.get_by_label("Email address").fill("olga@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="New course").click()
    page.get_by_label("Short name (slug)").fill("birding")
    page.get_by_label("Title").fill("Birding by ear")
    page.get_by_label("Summary").fill("Six weeks of bird song, learned with a small group near you.")
    page.get_by_label("License").select_option("CC-BY-4.0")
    page.get_by_label("Tags").fill("birds, outdoors")
    page.get_by_role("button", name="Create course").click()
    expect(page.get_by_role("heading", name="Birding by ear")).to_be_visible()
    for title, day in (("Robins", "0"), ("Warblers", "7")):
        page.get_by_role("link", name="Add a unit").click()
        page.get_by_label("Title").fill(title)
        page.get_by_label("Day").fill(day)
        page.get_by_label("Text (Markdown)").fill(f"Hello {{{{ learner.name }}}}, listen for **{title.lower()}**.")
        page.get_by_role("button", name="Add unit").click()
    page.get_by_role("button", name="Move Warblers up").click()
    rows = page.locator("#units tbody tr")
    expect(rows.nth(0)).to_contain_text("Warblers")
    expect(rows.nth(1)).to_contain_text("Robins")
    page.get_by_role("link", name="Warblers").click()
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#unit-preview")).to_contain_text("Hello Ada, listen for warblers.")
    expect(page.locator("#unit-preview strong")).to_have_text("warblers")
    expect(page).to_have_url(re.compile(r"/units/warblers$"))  # filled in place by editor.js
    page.get_by_role("link", name="Cancel").click()
    shot(page, "editor")
    page.get_by_role("button", name="Publish version 1").click()
    expect(page.get_by_text("Version 1 is published")).to_be_visible()
    page.get_by_role("link", name="Schedule a run").click()
    page.get_by_label("Start date").fill(start_in(21).isoformat())
    page.get_by_label("Time zone of the run").select_option("America/Toronto")
    page.get_by_label("Repeat every N weeks").fill("1")
    page.get_by_role("button", name="Schedule the run").click()
    expect(page.get_by_text("is scheduled")).to_be_visible()
    with session_scope() as db:
        course = db.scalar(select(Course).where(Course.slug == "birding"))
        assert course is not None and [u.title for u in course.units] == ["Warblers", "Robins"]
        assert course.current_version == 1 and course.license == "CC-BY-4.0"
        runs = db.scalars(select(Run).where(Run.course_id == course.id)).all()
        assert any(run.timezone == "America/Toronto" and run.every_weeks == 1 for run in runs)
