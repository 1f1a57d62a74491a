"""The newcomer's first ten minutes in chromium, on a desktop and on a phone (issue 15, items 1 and 10): the
first-steps page from the home page, the demo admin's one-time login link, and a learner leaving a run
(asked first) and rejoining it from the same page; no page wider than the window, no serious axe finding."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from courses.models import Enrollment
from server.floor.config import use_settings
from server.floor.db import session_scope
from server.roof.demo import demo_login_link, fill_demo
from tests.support.browser import ACTION_TIMEOUT_MS, LiveServer
from tests.web.test_browser_organizer import axe_script, axe_violations, overflow

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(live_server: LiveServer) -> Iterator[LiveServer]:
    """The live instance filled as `serve --demo` fills it, receiving group mail on 127.0.0.1:2525."""
    assert fill_demo()
    use_settings(replace(live_server.settings, inbound_smtp=("127.0.0.1", 2525)))
    yield live_server
    use_settings(live_server.settings)


def page_at(chromium: Browser, width: int) -> Page:
    context = chromium.new_context(viewport={"width": width, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    # Our pages refuse inline scripts (CSP): axe comes in as an init script, run by the browser itself.
    context.add_init_script(path=str(axe_script()))
    return context.new_page()


def checked(page: Page, problems: list[str]) -> None:
    """Note the page's overflow and serious axe findings, if any."""
    width = page.viewport_size["width"]  # type: ignore[index]
    if wide := overflow(page):
        problems.append(f"{page.url} at {width} px: {wide}")
    problems.extend(f"{page.url} at {width} px: {finding}" for finding in axe_violations(page))


@pytest.mark.parametrize("width", [1280, 390])
def test_first_steps_and_the_demo_admin_login(demo: LiveServer, chromium: Browser, width: int) -> None:
    page, problems = page_at(chromium, width), []
    try:
        page.goto(demo.url + "/")
        checked(page, problems)
        page.get_by_role("link", name="First steps: what to do next").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("First steps")
        expect(page.get_by_role("heading", name="Write to the study group")).to_be_visible()
        expect(page.locator("pre.command").filter(has_text="smtplib.SMTP('127.0.0.1', 2525)")).to_be_visible()
        checked(page, problems)

        link = demo_login_link()
        assert link is not None
        page.goto(link)
        checked(page, problems)
        page.get_by_role("button", name="Log in as Demo admin").click()
        expect(page).to_have_url(demo.url + "/welcome")
        expect(page.get_by_role("status")).to_contain_text("you are logged in")
        expect(page.get_by_text("Done: you are logged in as Demo admin")).to_be_visible()
        expect(page.get_by_role("link", name="the outbox page")).to_be_visible()
        checked(page, problems)
        page.goto(link)  # a second use
        expect(page.get_by_role("heading", level=1)).to_have_text("This login link no longer works")
    finally:
        page.context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", [1280, 390])
def test_leaving_asks_first_and_rejoining_undoes_it(demo: LiveServer, chromium: Browser, width: int) -> None:
    with session_scope() as db:
        token = db.scalar(select(Enrollment.token).where(Enrollment.email == "ada@example.org"))
    page, problems = page_at(chromium, width), []
    try:
        page.goto(f"{demo.url}/me/{token}")
        checked(page, problems)
        page.get_by_role("link", name="Leave this run…").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Leave A Gentle Introduction to Python?")
        checked(page, problems)
        page.get_by_role("button", name="Leave this run").click()
        expect(page.get_by_role("status")).to_contain_text("Changed your mind? Rejoin below")
        expect(page.get_by_text("you left", exact=True)).to_be_visible()
        checked(page, problems)
        page.get_by_role("button", name="Rejoin this run").click()
        expect(page.get_by_role("status")).to_contain_text("Welcome back")
        expect(page.get_by_role("link", name="Leave this run…")).to_be_visible()
        checked(page, problems)
    finally:
        page.context.close()
    assert not problems, "\n".join(problems)
    with session_scope() as db:
        assert db.scalar(select(Enrollment.status).where(Enrollment.token == token)) == "confirmed"
