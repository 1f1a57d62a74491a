"""The study group page in a phone's browser (issue 13): a member posts and replies by their magic
link at 390 px; the page never overflows and axe-core finds nothing serious before or after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from courses.models import Enrollment
from server.floor.db import session_scope
from tests.mail.conftest import gentle_run
from tests.support.browser import ACTION_TIMEOUT_MS, LiveServer
from tests.web.test_browser_organizer import axe_script, axe_violations, overflow

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(chromium: Browser) -> Iterator[Page]:
    """A 390 px wide page with axe-core loaded outside the page's CSP."""
    context = chromium.new_context(viewport={"width": 390, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.add_init_script(path=str(axe_script()))
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def test_a_member_posts_and_replies_on_a_phone(live_server: LiveServer, phone: Page) -> None:
    with session_scope() as session:
        gentle_run(session, [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC")])
        ann = session.scalars(select(Enrollment).where(Enrollment.email == "ann@example.org")).one().token
    page = phone
    page.goto(f"{live_server.url}/me/{ann}/group")
    assert overflow(page) == "" and axe_violations(page) == []
    page.get_by_label("Subject").fill("Loops on day two")
    long_link = "https://example.org/" + "a-very-long-path-segment-" * 8
    page.get_by_label("Your post").fill(f"Who is stuck?\nI read {long_link}\n\n> for i in range(3):\n> quoted line")
    page.get_by_role("button", name="Post to the group").click()
    expect(page.get_by_text("Your post is in the archive")).to_be_visible()
    expect(page.locator(".prose blockquote")).to_contain_text("quoted line")
    page.get_by_text("Reply", exact=True).click()
    page.get_by_label("Your reply to Ann").fill("Me too,\nsee you there.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".replies .prose")).to_contain_text("see you there.")
    assert overflow(page) == "", overflow(page)
    assert axe_violations(page) == []
