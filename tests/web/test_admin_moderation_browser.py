"""Blocking a domain from the moderation page in a real browser, keyboard and labels only."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from federation.models import DomainBlock
from federation.transport.moderation import refused
from server.floor.accounts import create_account
from server.floor.db import session_scope
from tests.support.browser import LiveServer

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "ada@example.org", "correct horse battery"


def test_admin_blocks_and_unblocks_a_domain(live_server: LiveServer, browser_page: Page) -> None:
    with session_scope() as db:
        create_account(db, EMAIL, PASSWORD, role="admin", display_name="Ada")
    page = browser_page
    page.goto(live_server.url + "/login?next=/admin")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # The header's "Moderation" is the moderators' queue of reports about people; the admin page links
    # the course world's moderation under its own name (two links, two names).
    page.get_by_role("link", name="Course and group moderation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Moderation")

    page.get_by_label("Domain to block").fill("spam.example")
    page.get_by_label("Reason").fill("Sends spam to study groups")
    page.get_by_role("button", name="Block the domain").click()
    expect(page.get_by_text("spam.example is blocked.")).to_be_visible()
    row = page.get_by_role("row", name="spam.example")
    expect(row).to_contain_text("Sends spam to study groups")
    with session_scope() as db:
        assert db.scalar(select(DomainBlock.reason).where(DomainBlock.domain == "spam.example"))
        assert refused(db, "https://mail.spam.example/users/troll")

    row.get_by_role("button", name="Unblock spam.example").click()
    expect(page.get_by_text("spam.example is no longer blocked.")).to_be_visible()
    expect(page.get_by_text("No domain is blocked.")).to_be_visible()
    with session_scope() as db:
        assert not refused(db, "https://mail.spam.example/users/troll")
