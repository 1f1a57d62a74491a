"""Two real instances (`mechmooc serve` processes) and chromium on each: Lena on A finds Otto on B with
the search page (WebFinger), follows him from his remote profile, sees his post (written on B's
compose page) come into her home timeline, and replies from A; on B, Otto is notified and the reply
shows in his post's thread."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration.federated import eventually
from tests.support.browser import ACTION_TIMEOUT_MS, chromium  # noqa: F401  (fixture)
from tests.support.instances import Instance, InstanceFactory, ok

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


def _page(chromium: Browser) -> Iterator[Page]:  # noqa: F811
    context = chromium.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page_a(chromium: Browser) -> Iterator[Page]:  # noqa: F811
    yield from _page(chromium)


@pytest.fixture
def page_b(chromium: Browser) -> Iterator[Page]:  # noqa: F811
    yield from _page(chromium)


def log_in(page: Page, instance: Instance, email: str) -> None:
    page.goto(f"{instance.url}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def publish(page: Page, instance: Instance, text: str) -> str:
    page.goto(f"{instance.url}/compose")
    page.get_by_label("What do you want to say?").fill(text)
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Your post is published.")).to_be_visible()
    return page.url


def test_follow_read_and_reply_across_two_instances(
    instance_factory: InstanceFactory, page_a: Page, page_b: Page
) -> None:
    a, b = instance_factory("a"), instance_factory("b")
    both = [a, b]
    ok(a.cli("user", "create", "lena@example.org", "--password", PASSWORD))
    ok(b.cli("user", "create", "otto@example.org", "--password", PASSWORD))
    log_in(page_a, a, "lena@example.org")
    log_in(page_b, b, "otto@example.org")
    page_b.goto(f"{b.url}/@otto")  # his profile exists once he has looked at it (or posted)
    publish(page_b, b, "An early post from Otto on B")

    # Lena finds Otto by his handle on B and opens his profile as A knows it.
    page_a.goto(f"{a.url}/search?q=" + f"@otto@{b.host}")
    page_a.get_by_role("link", name=re.compile("otto")).first.click()
    expect(page_a.get_by_role("heading", level=1)).to_contain_text("otto")
    expect(page_a.get_by_text(f"This profile lives on {b.host}")).to_be_visible()
    expect(page_a.get_by_text("An early post from Otto on B")).to_be_visible()  # his outbox, read by A
    page_a.get_by_role("button", name="Follow", exact=True).click()

    def following() -> bool:
        page_a.goto(f"{a.url}/@otto@{b.host}")
        return page_a.get_by_role("button", name="Unfollow").count() == 1

    eventually(following, "B accepts Lena's follow", both)

    # Otto posts on B; it comes into Lena's home timeline on A.
    otto_post = publish(page_b, b, "Loops, part two: while")

    def in_home() -> bool:
        page_a.goto(f"{a.url}/home")
        return page_a.get_by_text("Loops, part two: while").count() > 0

    eventually(in_home, "Otto's post in Lena's home timeline", both)

    # Lena replies from A; Otto is notified on B and the reply shows in his thread.
    page_a.locator(".status", has_text="Loops, part two").get_by_role("link", name="Reply").click()
    box = page_a.get_by_label("What do you want to say?")
    expect(box).to_have_value(re.compile(f"^@otto@{re.escape(b.host)} "))
    box.press("End")
    box.type("thanks, the while example helped")
    page_a.get_by_role("button", name="Reply", exact=True).click()
    expect(page_a.get_by_text("Your post is published.")).to_be_visible()

    def notified() -> bool:
        page_b.goto(f"{b.url}/notifications")
        return page_b.get_by_text("the while example helped").count() > 0

    eventually(notified, "Otto's notification of Lena's reply", both)
    page_b.goto(otto_post)
    expect(page_b.locator(".thread-below")).to_contain_text("the while example helped")


def test_follow_from_your_own_server(instance_factory: InstanceFactory, page_b: Page) -> None:
    a, b = instance_factory("a"), instance_factory("b")
    ok(a.cli("user", "create", "lena@example.org", "--password", PASSWORD))
    ok(b.cli("user", "create", "otto@example.org", "--password", PASSWORD))
    page = page_b
    log_in(page, b, "otto@example.org")  # Otto is signed in on his own server, B
    # He visits Lena's profile on A, where he has no account. Browsers share cookies between ports of
    # one host: A is visited by another name, so that A's session cookie leaves B's alone.
    page.goto(f"http://localhost:{a.port}/@lena")
    page.get_by_label("Your handle").fill(f"@otto@{b.host}")
    page.get_by_role("button", name="Follow from your server").click()
    page.get_by_role("link", name=f"Go to {b.host}").click()  # B's subscribe template, from its WebFinger
    assert page.url.startswith(f"{b.url}/@lena@"), page.url
    page.get_by_role("button", name="Follow", exact=True).click()

    def followed() -> bool:
        page.goto(f"{a.url}/@lena")
        return page.get_by_text("1 followers").count() == 1 or "<strong>1</strong> followers" in page.content()

    eventually(followed, "Lena on A followed by Otto on B", [a, b])
