"""The organizer's run pages explain themselves (issue 15, items 5 to 7): links from the dashboard, the
activity charts (a fixed number of queries), group labels with their real zone range, counted grouping."""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event, select
from starlette.testclient import TestClient

from courses.models import Enrollment, Post, Run, StudyGroup
from courses.signup import admin_enroll
from server.floor.clock import now
from server.floor.db import get_engine, session_scope
from tests.web.coursepages import World, logged_in, token_on, web, world  # noqa: F401

ZONES = ("America/New_York", "America/Chicago", "Asia/Tokyo", "Asia/Kolkata")


def enroll_many(run: str, count: int, start: int = 0) -> None:
    """`count` learners in four zones, each with a post to their group once groups exist."""
    with session_scope() as db:
        found = db.scalar(select(Run).where(Run.handle == run))
        for number in range(start, start + count):
            admin_enroll(db, found, f"p{number}@example.org", name=f"P{number}", timezone=ZONES[number % 4])


def add_posts(run: str) -> None:
    with session_scope() as db:
        run_id = db.scalar(select(Run.id).where(Run.handle == run))
        for number, (email, group_id) in enumerate(
            db.execute(select(Enrollment.email, Enrollment.group_id).where(Enrollment.run_id == run_id)).all()
        ):
            source = "activitypub" if number % 3 == 0 else "email"
            db.add(Post(group_id=group_id, run_id=run_id, kind="group", source=source, author_email=email,
                        subject="Hello", text="Hi all", created_at=now() - timedelta(days=number % 5)))  # fmt: skip


def form_groups(client: TestClient, run: str) -> str:
    """Press "Form groups now"; the flash it leaves."""
    page = f"/organize/runs/{run}"
    response = client.post(f"{page}/group", data={"csrf_token": token_on(client, page)}, follow_redirects=True)
    assert response.status_code == 200
    flash = re.search(r'<p class="flash [^"]*"[^>]*>(.*?)</p>', response.text, re.S)
    assert flash, response.text
    return flash.group(1).strip()


@contextmanager
def counted_queries() -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_dashboard_links_each_run_to_its_learners_charts_and_mail(world: World, web: TestClient) -> None:
    logged_in(web, world.owner)
    page = web.get("/organize").text
    for path in ("", "/activity", "/mail"):
        assert f'href="/organize/runs/{world.run}{path}"' in page
    run_page = web.get(f"/organize/runs/{world.run}").text
    assert '<nav class="breadcrumb" aria-label="Breadcrumb">' in run_page
    for path in ("/activity", "/mail", "/import"):
        assert f'href="/organize/runs/{world.run}{path}"' in run_page
    assert 'aria-current="page">Learners and groups' in run_page


def test_grouping_says_when_then_what_it_did(world: World, web: TestClient) -> None:
    enroll_many(world.run, 8)
    logged_in(web, world.owner)
    before = web.get(f"/organize/runs/{world.run}").text
    assert "Groups form on" in before and "UTC</strong>, an hour before the start day begins" in before
    assert "formed on" in web.get(f"/runs/{world.run}").text  # the public page says when too
    flash = form_groups(web, world.run)
    with session_scope() as db:
        groups = db.scalars(select(StudyGroup).join(Run).where(Run.handle == world.run)).all()
    # Before the fix: "Grouping done: 1 learners placed." (it counted groups as learners).
    assert flash == f"Grouping done: 8 learners placed, {len(groups)} new group{'s' if len(groups) != 1 else ''}."
    after = web.get(f"/organize/runs/{world.run}").text
    assert "Groups form on" not in after and "formed the day before" not in after
    # Its label is the real span of its members' zones at the start (New York, Chicago, Tokyo, Kolkata).
    assert "UTC\u22126 to UTC+9" in after or ("UTC\u22126 to UTC\u22125" in after and "UTC+5:30 to UTC+9" in after)
    group_page = web.get(f"/groups/{groups[0].handle}").text
    assert "UTC\u22126 to UTC" in group_page and "(mostly " in group_page
    again = form_groups(web, world.run)
    assert again == "Nobody was waiting for a group, and no group was small enough to merge."
    enroll_many(world.run, 1, start=8)  # a late joiner is placed at once (grouping is due once groups exist)
    assert form_groups(web, world.run).startswith("Nobody was waiting")


def test_the_activity_page_draws_every_chart_with_its_numbers(world: World, web: TestClient) -> None:
    enroll_many(world.run, 8)
    logged_in(web, world.owner)
    form_groups(web, world.run)
    add_posts(world.run)
    page = web.get(f"/organize/runs/{world.run}/activity")
    assert page.status_code == 200
    text = page.text
    for chart in ("chart-quiet", "chart-posts", "chart-signups"):
        assert f'id="{chart}" role="img"' in text and f'<title id="{chart}-title">' in text
    assert "No unit has been mailed yet." in text and "Welcome to your study group" in text  # units by title
    assert "The numbers: posts per group and day" in text and "from the fediverse" in text
    assert "p0@example.org" not in text  # all of them posted: nobody went quiet
    assert "8 of 8 learners opened a mail, clicked a link or wrote to their group" in text


def test_the_activity_page_costs_the_same_queries_for_4_or_40_learners(world: World, web: TestClient) -> None:
    logged_in(web, world.owner)
    enroll_many(world.run, 4)
    form_groups(web, world.run)
    add_posts(world.run)
    path = f"/organize/runs/{world.run}/activity"
    web.get(path)  # warm: the session and instance reads every page makes
    with counted_queries() as small:
        assert web.get(path).status_code == 200
    enroll_many(world.run, 36, start=4)
    form_groups(web, world.run)
    add_posts(world.run)
    with counted_queries() as large:
        assert web.get(path).status_code == 200
    assert len(large) == len(small), "\n".join(large)


def test_another_organizer_gets_403_on_the_charts(world: World, web: TestClient) -> None:
    enroll_many(world.run, 2)
    logged_in(web, world.other)
    response = web.get(f"/organize/runs/{world.run}/activity")
    assert response.status_code == 403 and "p0@example.org" not in response.text


def test_the_run_page_costs_the_same_queries_for_4_or_40_learners(world: World, web: TestClient) -> None:
    logged_in(web, world.owner)
    enroll_many(world.run, 4)
    form_groups(web, world.run)
    path = f"/organize/runs/{world.run}"
    web.get(path)
    with counted_queries() as small:
        assert web.get(path).status_code == 200
    enroll_many(world.run, 36, start=4)
    form_groups(web, world.run)
    with counted_queries() as large:
        assert web.get(path).status_code == 200
    # A guard: the learners' groups come from the session (run_summary loaded them), not a query per row.
    assert len(large) == len(small), "\n".join(large)
