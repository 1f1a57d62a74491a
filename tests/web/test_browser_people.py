"""People's own pages in chromium (issue 12): the admin opens sign-ups, a visitor signs up, confirms
the address from the mail and sets a profile with an avatar; a learner claims an account from their
page; every new page at 1280 and 390 px with axe-core."""

from __future__ import annotations

import io
import re
from email import message_from_string, policy

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from courses.models import Enrollment
from mail.models import OutgoingMail
from server.floor.accounts import create_account
from server.floor.db import session_scope
from tests.mail.conftest import gentle_run
from tests.support.browser import LiveServer
from tests.web.test_browser_organizer import WIDTHS, axe_script, axe_violations, log_in, overflow

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
CONFIRM = re.compile(r"https?://[^/\s]+(/auth/confirm/[A-Za-z0-9_.-]+)")


def confirmation_path(to: str) -> str:
    with session_scope() as db:
        raw = db.scalars(select(OutgoingMail.message).where(OutgoingMail.to_addr == to)).all()
    for text in raw:
        body = message_from_string(text, policy=policy.default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
        if match := CONFIRM.search(body):
            return match.group(1)
    raise AssertionError(f"no confirmation mail to {to}")


def png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, format="PNG")
    return buffer.getvalue()


def check_page(page: Page, base: str, path: str, problems: list[str]) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        if too_wide := overflow(page):
            problems.append(f"{path} at {width} px: {too_wide}")
        problems += [f"{path} at {width} px: {line}" for line in axe_violations(page)]


def test_sign_up_confirm_profile_and_claim(live_server: LiveServer, browser_page: Page) -> None:
    page, base = browser_page, live_server.url
    page.context.add_init_script(path=str(axe_script()))
    with session_scope() as db:
        create_account(db, "ada@example.org", PASSWORD, role="admin")
        run = gentle_run(db, [("lee@example.org", "Lee", "UTC")])
        token = db.scalars(select(Enrollment.token).where(Enrollment.run_id == run.id)).one()
    problems: list[str] = []

    # The admin opens sign-ups and makes an invite link.
    log_in(page, base, "ada@example.org")
    page.goto(f"{base}/admin/instance")
    page.get_by_label("Who may sign up for an account").select_option("open")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The instance settings are saved.")).to_be_visible()
    page.goto(f"{base}/admin/invites")
    page.get_by_role("button", name="Make an invite link").click()
    expect(page.get_by_text("The invite link is")).to_be_visible()
    for path in ("/admin/sign_ups", "/admin/invites", "/admin/instance"):
        check_page(page, base, path, problems)
    page.get_by_role("button", name="Log out").click()

    # A visitor signs up from the header link and confirms from the mail.
    page.goto(base + "/")
    page.get_by_role("link", name="Sign up").click()
    check_page(page, base, "/auth/sign_up", problems)
    page.get_by_label("Email address").fill("newt@example.org")
    page.get_by_label("Handle").fill("newt")
    page.get_by_label("Display name").fill("Newt")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_label("I accept these rules").check()
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Look in your mailbox")).to_be_visible()
    page.goto(base + confirmation_path("newt@example.org"))
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.get_by_text("Welcome, @newt!")).to_be_visible()

    # The profile: a bio and an avatar with its alt text.
    page.goto(f"{base}/settings/profile")
    page.get_by_label("Bio").fill("Learning #python with friends")
    page.get_by_label("Avatar (JPEG").set_input_files(
        {"name": "me.png", "mimeType": "image/png", "buffer": png((800, 500))}
    )
    page.get_by_label("Avatar description (alt text)").fill("A teal square")
    page.get_by_role("button", name="Save the profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    expect(page.get_by_role("img", name="A teal square")).to_be_visible()
    for path in ("/settings/profile", "/settings/notifications"):
        check_page(page, base, path, problems)
    page.get_by_role("button", name="Log out").click()

    # A learner claims an account from their page.
    page.goto(f"{base}/me/{token}")
    page.get_by_role("link", name="Claim an account here").click()
    check_page(page, base, f"/me/{token}/claim", problems)
    page.get_by_label("Handle").fill("lee")
    page.get_by_label("Password (if you chose one)").fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_label("I accept these rules").check()
    page.get_by_role("button", name="Make my account").click()
    expect(page.get_by_text("Your account @lee is ready")).to_be_visible()
    with session_scope() as db:
        assert db.scalars(select(Enrollment.account_id).where(Enrollment.token == token)).one() is not None
    assert not problems, "\n".join(problems)
