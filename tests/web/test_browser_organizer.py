"""Every organizer and admin page in chromium, on a desktop and on a phone, with axe-core; the charts;
the time zone picker; the focus after a failed signup (issue 15, items 5 to 9 and 11).

axe-core comes from npm, pinned in tests/web/axe/package-lock.json and installed there by `npm ci` the
first time (like tests/interop does for Fedify); it is injected into each page with Playwright.
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from courses.models import StudyGroup
from mail.transport import local_outbox
from server.floor.db import session_scope
from tests.support.backends import IN_CI
from tests.support.browser import ACTION_TIMEOUT_MS, LiveServer
from tests.web.organizer_world import ADMIN, ORGANIZER, PASSWORD, QUIET, Seeded, seed

pytestmark = pytest.mark.browser
AXE_DIR = Path(__file__).parent / "axe"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (1280, 390)
# Impacts that fail the test; "moderate" and "minor" findings are printed by the failure message only.
BLOCKING = ("serious", "critical")


def axe_script() -> Path:
    """axe.min.js, installed from the lock file once (`npm ci`); a skip with the reason when npm cannot."""
    npm = shutil.which("npm")
    if npm is None and not AXE.is_file():
        message = "npm is not installed: the accessibility checks need Node.js and npm (axe-core)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with (AXE_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not AXE.is_file():
            done = subprocess.run(
                [str(npm), "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR, capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return AXE


@pytest.fixture
def world(live_server: LiveServer) -> Seeded:
    """The live instance with a run two weeks in (tests/web/organizer_world.py)."""
    return seed()


@pytest.fixture
def phone_page(chromium: Browser) -> Iterator[Page]:
    """A page in a fresh context whose browser says it is in India (Chrome reports Asia/Calcutta)."""
    context = chromium.new_context(viewport={"width": 390, "height": 800}, timezone_id="Asia/Kolkata")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def admin_and_organizer_pages(world: Seeded, data_dir: Path) -> list[str]:
    """Every page an organizer or an admin works on, with the seeded world's handles."""
    key = next((key for key, _ in local_outbox(data_dir, 1)), None)
    course, run = f"/organize/courses/{world.course}", f"/organize/runs/{world.run}"
    return [
        "/organize", "/organize/courses/new", "/organize/import", "/organize/remote", "/organize/privacy",
        course, f"{course}/units/new", f"{course}/units/{world.unit}", f"{course}/runs/new",
        run, f"{run}/activity", f"{run}/mail", f"{run}/import", f"/groups/{world.group}",
        "/admin", "/admin/instance", "/admin/accounts", "/admin/moderation", f"/admin/moderation/groups/{world.group}",
        "/admin/queues", "/admin/mail", *([f"/admin/mail/local/{key}"] if key else []),
    ]  # fmt: skip


def overflow(page: Page) -> str:
    """'' when nothing is wider than the window; else the width and the elements sticking out."""
    width = page.evaluate("document.documentElement.scrollWidth")
    if width <= page.viewport_size["width"]:  # type: ignore[index]
        return ""
    culprits = page.evaluate(
        """(limit) => [...document.body.querySelectorAll('*')]
             .filter(e => e.getBoundingClientRect().right > limit + 1)
             .filter(e => { for (let a = e.parentElement; a; a = a.parentElement)
                              if (getComputedStyle(a).overflowX !== 'visible') return false; return true; })
             .slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className} (${Math.round(e.getBoundingClientRect().right)} px)`)""",
        page.viewport_size["width"],  # type: ignore[index]
    )
    return f"{width} px wide: {', '.join(culprits)}"


def axe_violations(page: Page) -> list[str]:
    """The serious and critical axe-core violations of the page, one line each."""
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {json.dumps(v['targets'])}" for v in found if v["impact"] in BLOCKING
    ]


def test_every_organizer_and_admin_page_fits_a_phone_and_passes_axe(
    live_server: LiveServer, browser_page: Page, world: Seeded
) -> None:
    page = browser_page
    # Our pages refuse inline scripts (CSP), so page.add_script_tag cannot inject axe; an init script
    # is run by the browser itself, outside the page's policy, on every page the test opens.
    page.context.add_init_script(path=str(axe_script()))
    log_in(page, live_server.url, ADMIN)
    problems: list[str] = []
    for path in admin_and_organizer_pages(world, live_server.settings.data_dir):
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            response = page.goto(live_server.url + path)
            assert response is not None and response.status == 200, path
            if too_wide := overflow(page):
                problems.append(f"{path} at {width} px: {too_wide}")
            problems += [f"{path} at {width} px: {line}" for line in axe_violations(page)]
    assert not problems, "\n".join(problems)


def test_the_dashboard_reaches_every_run_page_in_two_clicks(
    live_server: LiveServer, browser_page: Page, world: Seeded
) -> None:
    page = browser_page
    log_in(page, live_server.url, ORGANIZER)
    run = f"/organize/runs/{world.run}"
    for link, target in (("Mail", f"{run}/mail"), ("Activity charts", f"{run}/activity"),
                         ("Learners and groups", run)):  # fmt: skip
        page.goto(live_server.url + "/organize")
        page.get_by_role("link", name=link).first.click()
        expect(page).to_have_url(live_server.url + target)
        crumbs = page.get_by_role("navigation", name="Breadcrumb")
        expect(crumbs.get_by_role("link", name="Organize")).to_be_visible()
    # From the run's page, one more click: its import form, the CSV, a group.
    page.goto(live_server.url + run)
    nav = page.get_by_role("navigation", name="This run")
    expect(nav.get_by_role("link", name="Import learners")).to_have_attribute("href", f"{run}/import")
    expect(page.get_by_role("link", name="Export learners (CSV)")).to_be_visible()
    with session_scope() as db:
        name = db.scalar(select(StudyGroup.name).where(StudyGroup.handle == world.group))
    page.get_by_role("link", name=str(name), exact=True).click()
    expect(page).to_have_url(live_server.url + f"/groups/{world.group}")


def test_the_charts_are_drawn_with_their_numbers(live_server: LiveServer, browser_page: Page, world: Seeded) -> None:
    page = browser_page
    log_in(page, live_server.url, ORGANIZER)
    page.goto(f"{live_server.url}/organize/runs/{world.run}/activity")
    for chart, name in (("chart-quiet", "Who went quiet"), ("chart-funnel", "From sent to replied, per unit"),
                        ("chart-posts", "Group posts per day, whole run"), ("chart-signups", "Signups per day")):  # fmt: skip
        image = page.get_by_role("img", name=name, exact=True)
        expect(image).to_have_attribute("id", chart)
        expect(image.locator("desc")).not_to_be_empty()
        assert image.locator("rect").count() > 1, chart
    # The numbers are there without opening anything visual: units by title, the quiet learner by name.
    funnel = page.get_by_role("region", name="The numbers: mails per unit")
    page.get_by_text("The numbers: mails per unit").click()
    expect(funnel.get_by_role("rowheader", name=world.first_unit_title)).to_be_visible()
    quiet = page.get_by_role("region", name="Quiet learners")
    expect(quiet.get_by_role("rowheader", name=re.compile(QUIET))).to_contain_text(QUIET)
    expect(quiet.get_by_role("row", name=re.compile(QUIET))).to_contain_text("never")
    assert page.locator("svg.chart-columns[id^='chart-group-']").count() >= 3  # one per group, on one scale


def test_zone_picker_preselects_filters_and_the_failed_signup_focuses_the_errors(
    live_server: LiveServer, phone_page: Page, world: Seeded
) -> None:
    page = phone_page
    page.goto(f"{live_server.url}/runs/{world.run}")
    picker = page.get_by_label("Your time zone")
    # Chrome reports the older name Asia/Calcutta: the picker lists it as Asia/Kolkata.
    expect(picker).to_have_value("Asia/Kolkata")
    assert picker.locator("option[value='US/Pacific'], option[value='Etc/GMT+5']").count() == 0
    assert picker.locator("optgroup[label='Europe'] option[value='Europe/Paris']").count() == 1
    page.get_by_label("Find a time zone in the list").fill("tokyo")
    expect(picker).to_have_value("Asia/Tokyo")
    expect(page.locator("#f-timezone-count")).to_contain_text("1 time zone matches")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Sign up").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(picker).to_have_value("Asia/Tokyo")  # what was chosen comes back, not the browser's guess
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
