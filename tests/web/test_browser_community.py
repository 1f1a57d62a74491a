"""The community in chromium: a learner signs up for a run, confirms by mail and claims an account;
with another person she writes, mentions, follows, boosts, replies and deletes through the pages only, with the keyboard-reachable controls found by role and label; every
community page passes axe-core and fits a 390 px phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from email import message_from_string, policy
from io import BytesIO

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from mail.models import OutgoingMail
from server.floor.db import session_scope
from tests.mail.conftest import gentle_run
from tests.support.browser import ACTION_TIMEOUT_MS, LiveServer
from tests.web.community_world import person, post
from tests.web.conftest import PASSWORD
from tests.web.test_browser_organizer import axe_script, axe_violations, overflow

pytestmark = pytest.mark.browser
CONFIRM = re.compile(r"https?://[^/\s]+(/signup/confirm/[A-Za-z0-9_.-]+)")


def _page(chromium: Browser, width: int = 1100) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": width, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.add_init_script(path=str(axe_script()))
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def lena_page(chromium: Browser) -> Iterator[Page]:
    yield from _page(chromium)


@pytest.fixture
def otto_page(chromium: Browser) -> Iterator[Page]:
    yield from _page(chromium, 390)


def _png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (120, 80), (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


def mailed_link(to: str, pattern: re.Pattern[str]) -> str:
    """The path of the first link matching `pattern` in the mails queued to `to`."""
    with session_scope() as db:
        raw = db.scalars(select(OutgoingMail.message).where(OutgoingMail.to_addr == to)).all()
    for text in raw:
        body = message_from_string(text, policy=policy.default).get_body(("plain",))
        if body is not None and (match := pattern.search(body.get_content())):  # type: ignore[attr-defined]
            return match.group(1)
    raise AssertionError(f"no mail to {to} with a link like {pattern.pattern}")


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def checked(page: Page) -> None:
    """The page passes axe-core and nothing sticks out of the window."""
    assert axe_violations(page) == [], page.url
    assert overflow(page) == "", f"{page.url}: {overflow(page)}"


def test_two_people_write_follow_boost_reply_and_delete(
    live_server: LiveServer, lena_page: Page, otto_page: Page
) -> None:
    base = live_server.url
    otto_id = person("otto", "Otto Octavius")
    post(otto_id, "Otto's first thoughts on #loops")
    with session_scope() as db:
        run = gentle_run(db, [("bob@example.org", "Bob", "UTC")], start=date(2027, 1, 11))
        run_handle = run.handle
    lena, otto = lena_page, otto_page
    log_in(otto, base, "otto@example.org")
    otto.goto(f"{base}/public/local")  # Otto reads while Lena signs up and writes

    # Lena signs up for a run as a learner, confirms by the mailed link, and claims an account.
    lena.goto(f"{base}/runs/{run_handle}")
    lena.get_by_label("Email address").fill("lena@example.org")
    lena.get_by_label("Your name").fill("Lena Lovelace")
    lena.get_by_role("button", name="Sign up").click()
    lena.goto(base + mailed_link("lena@example.org", CONFIRM))
    lena.get_by_role("button", name="Confirm my place").click()
    lena.get_by_role("link", name="Your page").click()
    lena.get_by_role("link", name="Claim an account here").click()
    lena.get_by_label("Handle").fill("lena")
    lena.get_by_label("Display name").fill("Lena Lovelace")
    lena.get_by_label("Password (if you chose one)").fill(PASSWORD)
    lena.get_by_label("Password again").fill(PASSWORD)
    lena.get_by_label("I accept these rules").check()
    lena.get_by_role("button", name="Make my account").click()
    expect(lena.get_by_text("Your account @lena is ready")).to_be_visible()

    # Lena writes a post mentioning Otto; the counter counts as she types.
    lena.goto(f"{base}/compose")
    checked(lena)
    box = lena.get_by_label("What do you want to say?")
    box.fill("Hello @otto, shall we study #loops together?")
    expect(lena.locator("#f-status-count")).to_contain_text("characters left")
    lena.get_by_label("Content warning").fill("")
    lena.get_by_role("radio", name="Public").check()
    lena.get_by_label("Picture 1", exact=True).set_input_files(
        {"name": "desk.png", "mimeType": "image/png", "buffer": _png()}
    )
    lena.get_by_label("Description of picture 1").fill("A tidy desk with a Python book")
    lena.get_by_role("button", name="Publish").click()
    expect(lena.get_by_text("Your post is published.")).to_be_visible()
    assert re.search(r"/@lena/\d+$", lena.url), lena.url
    lena_post = lena.url
    expect(lena.get_by_role("img", name="A tidy desk with a Python book")).to_be_visible()
    checked(lena)

    # Otto sees the mention in his notifications (the header counts it), at 390 px.
    otto.evaluate("window.dispatchEvent(new Event('focus'))")  # the header's count updates in place
    expect(otto.get_by_role("link", name=re.compile(r"Notifications 1 unread"))).to_be_visible()
    otto.goto(f"{base}/")
    checked(otto)
    expect(otto.get_by_role("link", name=re.compile(r"Notifications 1 unread"))).to_be_visible()
    otto.get_by_role("link", name=re.compile("Notifications")).first.click()
    expect(otto.get_by_text("mentioned you")).to_be_visible()
    checked(otto)
    otto.get_by_role("button", name="Mark all as read").click()
    expect(otto.get_by_role("link", name="Notifications", exact=True)).to_be_visible()

    # Otto follows Lena from her profile; her next post comes into his home timeline without a reload.
    otto.goto(f"{base}/@lena")
    checked(otto)
    otto.get_by_role("button", name="Follow", exact=True).click()
    expect(otto.get_by_role("button", name="Unfollow")).to_be_visible()
    otto.goto(f"{base}/home")
    checked(otto)
    expect(otto.get_by_text("shall we study")).to_be_visible()
    lena.goto(f"{base}/compose")
    lena.get_by_label("What do you want to say?").fill("Second post: chapter two is up")
    lena.get_by_role("button", name="Publish").click()
    expect(lena.get_by_text("Your post is published.")).to_be_visible()
    otto.evaluate("window.dispatchEvent(new Event('focus'))")  # community.js checks on focus (and every 30 s)
    otto.get_by_role("link", name="Show 1 new post").click()
    expect(otto.get_by_text("chapter two is up")).to_be_visible()

    # Otto boosts and replies to Lena's first post.
    otto.goto(lena_post)
    checked(otto)
    otto.get_by_role("button", name="Boost").first.click()
    expect(otto.get_by_role("button", name="Boost 1")).to_have_attribute("aria-pressed", "true")
    otto.get_by_role("link", name="Reply to Lena Lovelace").click()
    checked(otto)
    reply_box = otto.get_by_label("What do you want to say?")
    expect(reply_box).to_have_value(re.compile("^@lena "))
    reply_box.press("End")
    reply_box.type("yes, Thursday!")
    otto.get_by_role("button", name="Reply", exact=True).click()
    expect(otto.get_by_text("Your post is published.")).to_be_visible()

    # Lena sees the boost and the reply, then deletes her post.
    lena.goto(f"{base}/notifications")
    expect(lena.get_by_text("boosted your post")).to_be_visible()
    expect(lena.locator(".notifications")).to_contain_text("yes, Thursday!")  # a reply that mentions her
    checked(lena)
    lena.goto(lena_post)
    expect(lena.locator(".thread-below")).to_contain_text("yes, Thursday!")
    lena.locator(".status-focus").get_by_role("button", name="Delete").click()
    expect(lena.get_by_text("Your post is deleted.")).to_be_visible()
    assert lena.goto(lena_post).status == 404  # type: ignore[union-attr]

    # The other community pages pass axe-core too.
    for path in ("/public/local", "/public", "/tags/loops", "/search?q=otto", "/follow-requests", "/bookmarks"):
        response = otto.goto(base + path)
        assert response is not None and response.status == 200, path
        checked(otto)
