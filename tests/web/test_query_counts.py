"""The public pages issue a fixed number of SQL statements whatever the data size (no N+1).

Each page is counted on a small catalogue (2 courses, 2 runs each, 20 learners) and again once a
larger one sits beside it in the same database (8 courses, 5 runs each, 2,000 learners): the
catalogue then lists five times the courses, the course page shows a course with more runs, the
run page a run with more learners. Counted with SQLAlchemy's before_cursor_execute on the engine,
on the second request of each page (the first fills the per-process caches).
"""

from __future__ import annotations

from sqlalchemy import event
from starlette.testclient import TestClient

from server.floor.db import get_engine, session_scope
from tests.support.catalogue_world import Catalogue, build_catalogue


def statements(web: TestClient, path: str) -> int:
    """How many SQL statements the second GET of `path` ran (the first warms the caches)."""
    assert web.get(path).status_code == 200, path
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(get_engine(), "before_cursor_execute", count)
    try:
        assert web.get(path).status_code == 200, path
    finally:
        event.remove(get_engine(), "before_cursor_execute", count)
    return len(seen)


def pages(catalogue: Catalogue) -> dict[str, str]:
    return {
        "home": "/",
        "catalogue": "/courses",
        "course": f"/courses/{catalogue.course}",
        "run": f"/runs/{catalogue.run}",
    }


def test_pages_issue_as_many_statements_with_more_data(uncached: TestClient) -> None:
    with session_scope() as session:
        small = build_catalogue(session, courses=2, runs_per_course=2, learners=20, prefix="small")
    before = {name: statements(uncached, path) for name, path in pages(small).items()}
    with session_scope() as session:
        large = build_catalogue(session, courses=8, runs_per_course=5, learners=2000, prefix="large")
    after = {name: statements(uncached, path) for name, path in pages(large).items()}
    assert after == before, f"statements per page grew with the data: {before} -> {after}"
    assert max(after.values()) <= 12, after  # a handful each


def test_the_catalogue_pages_through_the_courses(uncached: TestClient) -> None:
    with session_scope() as session:
        build_catalogue(session, courses=30, runs_per_course=1, learners=0)
    home = uncached.get("/").text
    assert home.count('class="card"') == 12 and 'href="/courses"' in home and "All 30 courses" in home
    first = uncached.get("/courses").text
    assert first.count('class="card"') == 24 and 'href="/courses?page=2"' in first and 'rel="prev"' not in first
    second = uncached.get("/courses?page=2").text
    assert second.count('class="card"') == 6 and 'href="/courses?page=1"' in second and 'rel="next"' not in second
    titles = [line for line in first.splitlines() + second.splitlines() if "<h3>" in line]
    assert len(set(titles)) == 30  # every course once, none twice
    assert uncached.get("/courses?page=3").status_code == 404
    for bad in ("0", "x", "-1", "١", "9" * 30):
        response = uncached.get(f"/courses?page={bad}")
        assert response.status_code == 400 and "page must be a whole number" in response.text
