"""The newcomer's first ten minutes in chromium, on a desktop and on a phone (issue 15, items 1 and 10): the
first-steps page from the home page, the demo admin's one-time login link, and a learner leaving a run
(asked first) and rejoining it from the same page; no page wider than the window, no serious axe finding."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from courses.models import Enrollment, Run, StudyGroup
from mail.inbound import start_receiver
from mail.sender import send_all
from server.floor import urls
from server.floor.config import use_settings
from server.floor.db import session_scope
from server.roof.demo import demo_login_link, fill_demo
from tests.support.browser import ACTION_TIMEOUT_MS, LiveServer
from tests.support.smtp import free_port
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


def _send_everything() -> None:
    with session_scope() as db:
        send_all(db)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_demo_tour(demo: LiveServer, chromium: Browser, width: int) -> None:
    """The tour the first-steps page describes, as a newcomer takes it: sign up a learner, read the mail
    at /admin/mail, write to the study group's list, see the post in the archive, open the charts."""
    with session_scope() as db:
        run_handle = db.scalars(select(Run.handle)).one()
        group_handle = db.scalars(select(StudyGroup.handle)).one()
    page, problems = page_at(chromium, width), []
    try:
        # A visitor signs up on the run's page.
        page.goto(f"{demo.url}/runs/{run_handle}")
        checked(page, problems)
        page.get_by_label("Email address").fill("newcomer@example.org")
        page.get_by_label("Your name").fill("New Comer")
        page.get_by_role("button", name="Sign up").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Almost there")
        checked(page, problems)
        # What the worker of `serve --demo` does within seconds (in a thread: Playwright's loop runs here).
        sender = threading.Thread(target=_send_everything)
        sender.start()
        sender.join(60)

        # The demo admin reads the confirmation mail on the outbox page.
        link = demo_login_link()
        assert link is not None
        page.goto(link)
        page.get_by_role("button", name="Log in as Demo admin").click()
        page.goto(f"{demo.url}/admin/mail")
        expect(page.get_by_text("newcomer@example.org").first).to_be_visible()
        checked(page, problems)

        # A member writes to the study group's list through the built-in SMTP receiver.
        inbound = replace(demo.settings, inbound_smtp=("127.0.0.1", free_port()))
        use_settings(inbound)
        receiver = start_receiver(inbound)
        try:
            address = urls.group_address(group_handle)
            message = (
                f"From: Ada <ada@example.org>\r\nTo: {address}\r\nSubject: Hello group\r\n"
                "Message-ID: <tour-1@example.org>\r\n\r\nWho wants to pair on exercise 2?\r\n"
            )
            assert inbound.inbound_smtp is not None
            with smtplib.SMTP(*inbound.inbound_smtp) as client:
                client.sendmail("ada@example.org", [address], message.encode())
        finally:
            receiver.stop()
            use_settings(demo.settings)

        # The post is in the group's archive, and the run's charts open.
        page.goto(f"{demo.url}/groups/{group_handle}")
        expect(page.get_by_text("Who wants to pair on exercise 2?")).to_be_visible()
        checked(page, problems)
        page.goto(f"{demo.url}/organize/runs/{run_handle}/activity")
        expect(page.locator("svg").first).to_be_visible()
        checked(page, problems)
    finally:
        page.context.close()
    assert not problems, "\n".join(problems)
