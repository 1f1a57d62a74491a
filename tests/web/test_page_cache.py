"""Public pages kept for anonymous visitors (web.page_cache), and what ends a kept page.

A kept page is answered without a single SQL statement; any write that commits in any process on
the data dir ends it (server.floor.changes); each visitor's forms carry that visitor's own CSRF
token, which a POST accepts; logged-in visitors, flashed notices and MECHMOOC_PAGE_CACHE_SECONDS=0
bypass it; writes to the machine's queues alone do not end it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import event, text, update
from starlette.testclient import TestClient

from courses.models import Run
from server.floor import changes
from server.floor.db import get_engine, session_scope
from server.floor.settings import Settings
from tests.support.catalogue_world import Catalogue, build_catalogue
from tests.web.conftest import CSRF, PASSWORD
from web.csrf import PLACEHOLDER


@pytest.fixture
def world(settings: Settings) -> Catalogue:
    with session_scope() as session:
        return build_catalogue(session, courses=2, runs_per_course=2, learners=10, prefix="kept")


def counted(client: TestClient, path: str) -> tuple[int, str]:
    """(SQL statements run, page text) of one GET of `path`, which must answer 200."""
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(get_engine(), "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        event.remove(get_engine(), "before_cursor_execute", count)
    assert response.status_code == 200, (path, response.status_code)
    return len(seen), response.text


def test_an_anonymous_page_is_kept_until_a_write_commits(client: TestClient, world: Catalogue) -> None:
    path = f"/courses/{world.course}"
    first, page = counted(client, path)
    assert first > 0
    again, same = counted(client, path)
    assert again == 0 and same == page
    assert world.run in page
    with session_scope() as session:  # the run ends: the course page no longer lists it
        session.execute(update(Run).where(Run.handle == world.run).values(status="finished"))
    statements, changed = counted(client, path)
    assert statements > 0 and world.run not in changed


def test_a_write_in_another_process_ends_the_kept_page(
    client: TestClient, world: Catalogue, settings: Settings
) -> None:
    """The worker, the scheduler and commands are other processes: their commits must end kept pages."""
    assert world.run in counted(client, "/courses")[1]
    assert counted(client, "/courses")[0] == 0
    script = textwrap.dedent(
        f"""
        import os
        os.environ["MECHMOOC_DATA_DIR"] = {str(settings.data_dir)!r}
        os.environ["MECHMOOC_DATABASE_URL"] = {settings.database_url!r}
        os.environ["MECHMOOC_URL"] = {settings.url!r}
        from sqlalchemy import update
        from courses.models import Run
        from server.floor.db import session_scope
        from server.floor.settings import load_settings
        from server.roof.bootstrap import boot
        boot(load_settings(), migrate=False)
        with session_scope() as session:
            session.execute(update(Run).where(Run.handle == {world.run!r}).values(status="finished"))
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    statements, page = counted(client, "/courses")
    assert statements > 0 and world.run not in page


def test_each_visitor_gets_a_token_of_their_own_and_the_form_posts(
    app: object, client: TestClient, world: Catalogue
) -> None:
    path = f"/runs/{world.run}"
    _, first = counted(client, path)
    with TestClient(app, base_url="http://testserver.localhost") as other:  # type: ignore[arg-type]
        statements, second = counted(other, path)
        assert statements == 0  # the kept page
        tokens = CSRF.findall(first), CSRF.findall(second)
        assert tokens[0] and tokens[1] and tokens[0][0] != tokens[1][0]
        assert PLACEHOLDER not in first and PLACEHOLDER not in second
        assert re.sub(CSRF, "", first) == re.sub(CSRF, "", second)
        # The kept form works: the token is this visitor's session's.
        answer = other.post(
            f"{path}/signup",
            data={"csrf_token": tokens[1][0], "email": "kept@example.org", "name": "Kept", "timezone": "UTC"},
            follow_redirects=False,
        )
        assert answer.status_code != 403, answer.text


def test_logged_in_visitors_and_flashes_bypass_the_cache(
    client: TestClient, world: Catalogue, people: dict[str, str]
) -> None:
    counted(client, "/")
    assert counted(client, "/")[0] == 0
    page = client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    client.post("/login", data={"csrf_token": token.group(1), "email": people["organizer"], "password": PASSWORD})
    statements, page_text = counted(client, "/")
    assert statements > 0 and PLACEHOLDER not in page_text
    assert counted(client, "/")[0] > 0  # never kept for, nor answered from the cache to, a logged-in visitor


def test_writes_to_the_machines_queues_alone_keep_the_page(client: TestClient, world: Catalogue) -> None:
    counted(client, "/")
    before = changes.generation()
    with get_engine().begin() as connection:
        connection.execute(text("DELETE FROM rate_hits"))
        connection.execute(text("DELETE FROM mail_outgoing WHERE id < 0"))
    assert changes.generation() == before
    assert counted(client, "/")[0] == 0
    with get_engine().begin() as connection:
        connection.execute(text("UPDATE runs SET capacity = capacity WHERE id < 0"))
    assert changes.generation() != before
    assert counted(client, "/")[0] > 0


def test_the_cache_can_be_turned_off(uncached: TestClient, world: Catalogue) -> None:
    counted(uncached, "/")
    assert counted(uncached, "/")[0] > 0


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("SELECT * FROM runs", False),
        ("  select 1", False),
        ("PRAGMA data_version", False),
        ("UPDATE runs SET capacity = 3", True),
        ('update "mail_outgoing" set status = 1', False),
        ("INSERT OR IGNORE INTO rate_hits VALUES (1)", False),
        ("INSERT INTO courses (slug) VALUES ('x')", True),
        ("DELETE FROM federation_inbox", False),
        ("WITH gone AS (DELETE FROM runs RETURNING id) SELECT count(*) FROM gone", True),
        ("CREATE TABLE t (x int)", True),
    ],
)
def test_which_statements_move_the_generation(statement: str, writes: bool) -> None:
    assert changes.writes(statement, None) is writes
