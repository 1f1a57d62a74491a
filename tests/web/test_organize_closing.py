"""The organizer's run page closes one study group or all of them (issue 13: groups live on after the run
until closed); another organizer cannot."""

# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from courses.models import Run, StudyGroup
from server.floor.db import session_scope
from tests.web.coursepages import World, logged_in, web, world  # noqa: F401
from tests.web.test_organize import enroll, post


def closed(run: str) -> dict[str, bool]:
    with session_scope() as db:
        query = select(StudyGroup).join(Run).where(Run.handle == run)
        return {group.handle: group.closed_at is not None for group in db.scalars(query)}


def test_close_this_group_then_all_groups_from_the_run_page(world: World, web: TestClient) -> None:
    for number in range(6):
        enroll(world.run, f"l{number}@example.org", "Europe/Paris" if number < 3 else "Asia/Tokyo")
    page = f"/organize/runs/{world.run}"
    with session_scope() as db:
        db.scalar(select(Run).where(Run.handle == world.run)).group_size = 3  # type: ignore[union-attr]
    logged_in(web, world.owner)
    post(web, f"{page}/group", page=page)
    with session_scope() as db:
        db.scalar(select(Run).where(Run.handle == world.run)).status = "finished"  # type: ignore[union-attr]
    text = web.get(page).text
    assert "Close this group" in text and "Close all groups" in text and "stay open" in text
    first, *others = sorted(closed(world.run))
    assert others, "the six learners should make more than one group"
    web.cookies.clear()
    logged_in(web, world.other)
    assert post(web, f"{page}/close-groups", {"group": first}).status_code == 403
    assert not any(closed(world.run).values())
    web.cookies.clear()
    logged_in(web, world.owner)
    done = post(web, f"{page}/close-groups", {"group": first}, page=page)
    assert done.status_code == 303 and done.headers["location"].endswith("#groups")
    assert closed(world.run) == {handle: handle == first for handle in [first, *others]}
    assert post(web, f"{page}/close-groups", {"group": "no-such-group"}, page=page).status_code == 404
    assert post(web, f"{page}/close-groups", page=page).status_code == 303
    assert all(closed(world.run).values())
    text = web.get(page).text
    assert "Close all groups" not in text and "Close this group" not in text and "Closed" in text
