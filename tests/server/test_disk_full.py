"""A full disk answers 503 with Retry-After and a sentence, never a 500 (issue 11, item 13).

The failures are real: a write to /dev/full (the kernel's ENOSPC), and SQLite refusing to grow past
`max_page_count` (SQLITE_FULL, "database or disk is full", what a full disk gives the database).
"""

# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from server.floor.db import get_engine
from server.floor.disk import RETRY_AFTER, disk_full
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.web.coursepages import World, world  # noqa: F401

DEV_FULL = Path("/dev/full")


def save_upload(request: Request) -> Response:
    """Stands for any route that writes a file (an upload, the Maildir outbox, the broker)."""
    DEV_FULL.write_bytes(b"what the visitor sent")
    return PlainTextResponse("saved")


@pytest.fixture
def disk_app(sqlite_settings: Settings) -> Iterator[TestClient]:
    app = create_app(sqlite_settings)
    app.router.routes.insert(0, Route("/mail/save", save_upload, methods=["POST"]))
    with TestClient(app, base_url="http://testserver.localhost", raise_server_exceptions=False) as client:
        yield client


@pytest.mark.skipif(not DEV_FULL.exists(), reason="needs /dev/full (Linux)")
def test_enospc_from_a_route_is_a_503_with_retry_after(disk_app: TestClient) -> None:
    # A machine path (no CSRF token needed): a provider's webhook, an API call.
    machine = disk_app.post("/mail/save", content=b"x")
    assert machine.status_code == 503, machine.text
    assert machine.headers["Retry-After"] == str(RETRY_AFTER)
    assert "disk is full" in machine.json()["error"]


@pytest.mark.skipif(not DEV_FULL.exists(), reason="needs /dev/full (Linux)")
def test_enospc_page_for_people(sqlite_settings: Settings) -> None:
    app = create_app(sqlite_settings)
    app.router.routes.insert(0, Route("/save", save_upload, methods=["GET"]))
    with TestClient(app, base_url="http://testserver.localhost", raise_server_exceptions=False) as client:
        page = client.get("/save", headers={"Accept": "text/html"})
    assert page.status_code == 503 and page.headers["Retry-After"] == str(RETRY_AFTER)
    assert "disk is full" in page.text and "Temporarily unavailable" in page.text


def test_a_full_database_answers_503_to_a_signup(world: World, settings: Settings) -> None:
    if not settings.is_sqlite:
        pytest.skip("SQLite's max_page_count stands for a full disk; PostgreSQL's disk_full is recognised below")
    engine = get_engine()
    with engine.connect() as connection:
        pages = connection.execute(text("PRAGMA page_count")).scalar_one()

    def cap(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(engine, "connect", cap)
    engine.dispose()
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            answers = [
                client.post(
                    f"/api/runs/{world.run}/signup",
                    json={"email": f"learner{n}@example.org", "name": "L" * 2000, "timezone": "Europe/Berlin"},
                )
                for n in range(40)
            ]
    finally:
        event.remove(engine, "connect", cap)
        engine.dispose()
    statuses = {answer.status_code for answer in answers}
    assert 500 not in statuses, statuses
    full = [answer for answer in answers if answer.status_code == 503]
    assert full, f"the database never filled up: {statuses}"
    assert full[0].headers["Retry-After"] == str(RETRY_AFTER) and "disk is full" in full[0].json()["error"]


def test_disk_full_recognises_each_shape() -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    assert disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not disk_full(RuntimeError("boom"))
    try:
        raise RuntimeError("while saving") from OSError(errno.ENOSPC, "No space left on device")
    except RuntimeError as chained:
        assert disk_full(chained)
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined]
    assert disk_full(OperationalError("INSERT ...", {}, full))

    class DiskFull(Exception):  # psycopg.errors.DiskFull carries its SQLSTATE so
        sqlstate = "53100"

    assert disk_full(OperationalError("INSERT ...", {}, DiskFull("could not extend file")))
