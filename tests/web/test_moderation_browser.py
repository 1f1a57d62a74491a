"""Moderation in chromium: a person reports a post from the author's profile, a moderator suspends the
author from the queue, the audit log names both; every moderation page fits a phone and passes axe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from community.models import Profile, Report
from community.people import local_profile
from server.floor.accounts import Account, create_account
from server.floor.db import session_scope
from tests.community.moderation_support import status
from tests.support.browser import LiveServer
from tests.web.conftest import PASSWORD
from tests.web.test_browser_organizer import WIDTHS, axe_script, axe_violations, overflow

pytestmark = pytest.mark.browser


def seed() -> dict[str, int]:
    with session_scope() as db:
        create_account(db, "mo@example.org", PASSWORD, role="moderator", handle="mo")
        local_profile(db, create_account(db, "lena@example.org", PASSWORD, handle="lena"))
        troll = local_profile(db, create_account(db, "troll@example.org", PASSWORD, handle="troll"))
        post = status(db, troll, "You are all idiots")
        return {"troll": troll.id, "post": post.id}


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_a_report_from_a_profile_to_a_suspension_in_the_queue(live_server: LiveServer, browser_page: Page) -> None:
    world = seed()
    page, base = browser_page, live_server.url
    log_in(page, base, "lena@example.org")
    page.goto(f"{base}/@troll")
    page.get_by_role("link", name="Report @troll").click()
    page.get_by_label("Spam: ads, scams, repeated links").check()
    page.get_by_label("You are all idiots").check()
    page.get_by_label("Anything the moderators should know").fill("insults in the local timeline")
    page.get_by_role("button", name="Send the report").click()
    expect(page.get_by_text("The moderators have your report")).to_be_visible()
    with session_scope() as db:
        report = db.scalar(select(Report))
        assert report is not None and report.status_ids == [world["post"]] and report.category == "spam"
        report_id = report.id
    page.get_by_role("button", name="Log out").click()

    log_in(page, base, "mo@example.org")
    page.get_by_role("link", name="Moderation").click()
    page.get_by_role("link", name=f"Report {report_id} about @troll").click()
    expect(page.get_by_text("You are all idiots")).to_be_visible()
    page.get_by_role("textbox", name="Reason", exact=True).fill("insults after two warnings")
    page.get_by_role("button", name="Suspend @troll").click()
    expect(page.get_by_text("account suspended, report resolved")).to_be_visible()
    page.get_by_role("link", name="Audit log").first.click()
    expect(page.get_by_text(re.compile(r"mo\s+suspended\s+@troll"))).to_be_visible()
    expect(page.get_by_text("insults after two warnings").first).to_be_visible()
    with session_scope() as db:
        troll = db.get(Profile, world["troll"])
        login = db.scalar(select(Account).where(Account.handle == "troll"))
        assert troll is not None and troll.suspended_at is not None and login is not None and login.disabled


def test_every_moderation_page_fits_a_phone_and_passes_axe(live_server: LiveServer, browser_page: Page) -> None:
    world = seed()
    page, base = browser_page, live_server.url
    page.context.add_init_script(path=str(axe_script()))
    log_in(page, base, "lena@example.org")
    page.goto(f"{base}/report?account={world['troll']}&status={world['post']}")
    page.get_by_role("button", name="Send the report").click()
    with session_scope() as db:
        report_id = db.scalar(select(Report.id))
    problems: list[str] = []

    def check(paths: list[str]) -> None:
        for path in paths:
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 800})
                response = page.goto(base + path)
                assert response is not None and response.status == 200, path
                if too_wide := overflow(page):
                    problems.append(f"{path} at {width} px: {too_wide}")
                problems.extend(f"{path} at {width} px: {line}" for line in axe_violations(page))

    check([f"/report?account={world['troll']}&status={world['post']}"])
    page.get_by_role("button", name="Log out").click()
    log_in(page, base, "mo@example.org")
    check(
        [
            "/admin/reports",
            f"/admin/reports/{report_id}",
            f"/admin/accounts/{world['troll']}",
            "/admin/domain_blocks",
            "/admin/audit",
        ]
    )
    assert not problems, "\n".join(problems)
