"""The shell in a real browser: login, logout, password reset by mail, keyboard-only use."""

from __future__ import annotations

import re
from email import message_from_string, policy
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from mail.models import OutgoingMail
from server.floor.accounts import create_account
from server.floor.db import session_scope
from tests.support.browser import LiveServer

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "ada@example.org", "correct horse battery"


@pytest.fixture
def admin(live_server: LiveServer) -> str:
    """An admin account on the live instance."""
    with session_scope() as db:
        create_account(db, EMAIL, PASSWORD, role="admin", display_name="Ada")
    return EMAIL


def submit_login(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_login_and_logout(live_server: LiveServer, browser_page: Page, admin: str) -> None:
    page = browser_page
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login$"))

    submit_login(page, admin, "not the password")
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    expect(page.get_by_label("Email address")).to_have_value(admin)

    submit_login(page, admin, PASSWORD)
    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("status")).to_contain_text("Welcome back, Ada.")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Admin")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("You are logged out.")
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)


def test_password_reset_by_mail(live_server: LiveServer, browser_page: Page, admin: str) -> None:
    page = browser_page
    page.goto(live_server.url + "/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email address").fill(admin)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("status")).to_contain_text("a link to reset its password is on its way")

    with session_scope() as db:
        row = db.scalars(select(OutgoingMail).where(OutgoingMail.to_addr == admin)).one()
        mail = message_from_string(row.message, policy=policy.default)
    body = mail.get_body(("plain",))  # type: ignore[attr-defined]
    link = re.search(re.escape(live_server.url) + r"/password/reset/\S+", body.get_content())
    assert link, body.get_content()

    page.goto(link.group(0))
    page.get_by_label("New password", exact=True).fill("a fresh secret")
    page.get_by_label("Confirm new password").fill("a fresh secret")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("status")).to_contain_text("Your new password is saved")
    page.get_by_role("button", name="Log out").click()

    page.goto(link.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("This link no longer works")
    page.goto(live_server.url + "/login")
    submit_login(page, admin, "a fresh secret")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def focused(page: Page) -> dict[str, str]:
    return page.evaluate(
        """() => { const e = document.activeElement; const s = getComputedStyle(e);
        return {tag: e.tagName, name: e.name || "", id: e.id || "", text: (e.textContent || "").trim(),
                outline: s.outlineStyle, outlineWidth: s.outlineWidth}; }"""
    )


def test_login_with_the_keyboard_alone(live_server: LiveServer, browser_page: Page, admin: str) -> None:
    page = browser_page
    page.goto(live_server.url + "/login")

    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["text"] == "Skip to main content"
    assert skip["outline"] != "none" and skip["outlineWidth"] != "0px"
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"

    for _ in range(10):
        page.keyboard.press("Tab")
        if focused(page)["name"] == "email":
            break
    current = focused(page)
    assert current["name"] == "email", "Tab from the main content should reach the email field"
    assert current["outline"] != "none"
    page.keyboard.type(admin)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Welcome back, Ada.")

    for _ in range(30):  # past the skip link and the header's links (the main navigation, notifications, ...)
        page.keyboard.press("Tab")
        if focused(page)["text"] == "Log out":
            break
    assert focused(page)["text"] == "Log out"
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("You are logged out.")


def test_home_page_fits_a_phone_and_a_desktop(live_server: LiveServer, browser_page: Page, tmp_path: Path) -> None:
    page = browser_page
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mechanical MOOC")
    page.screenshot(path=str(tmp_path / "home-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(live_server.url + "/about")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert (tmp_path / "home-desktop.png").stat().st_size > 5_000
