"""A remote server that drips one byte every 2 s can neither stall the instance's writes nor hold a fetch for ever."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from courses.models import Enrollment
from federation.entry import inbox
from federation.models import InboxActivity
from federation.transport import fetch
from federation.transport.keys import instance_signing_key
from server.floor.accounts import create_account
from server.floor.clock import now
from server.floor.config import use_settings
from server.floor.db import session_scope, write_scope
from server.floor.settings import Settings
from tests.federation.flows_support import course_and_run
from web.pages.signup import HANDLE_UNUSABLE, submit_signup

DEADLINE = 4.0


@pytest.fixture
def drip() -> Iterator[int]:
    """A raw HTTP server on 127.0.0.1 that answers every connection one byte every 2 s, never finishing."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                if stop.wait(2.0):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield int(server.getsockname()[1])
    stop.set()
    server.close()


@pytest.fixture
def short_deadline(sqlite_settings: Settings) -> Iterator[Settings]:
    """The test instance with a fetch deadline of DEADLINE seconds (the default is 15)."""
    use_settings(dataclasses.replace(sqlite_settings, fetch_deadline=DEADLINE))
    yield sqlite_settings
    use_settings(sqlite_settings)


def test_federation_a_slow_server_gives_up_at_the_deadline_with_a_clear_error(
    short_deadline: Settings, drip: int
) -> None:
    with session_scope() as session:
        key = instance_signing_key(session)
    started = time.monotonic()
    with pytest.raises(fetch.FetchError, match=f"within {DEADLINE:g} s"):
        fetch.get_json(f"http://127.0.0.1:{drip}/users/slow", key)
    assert DEADLINE - 0.5 < time.monotonic() - started < DEADLINE + 3


def test_federation_a_signup_by_handle_on_a_slow_server_does_not_stall_other_writes(
    short_deadline: Settings, drip: int
) -> None:
    with session_scope() as session:
        _course, run = course_and_run(session)
        run_handle = run.handle
    outcome: list[tuple[object, int]] = []
    signup = threading.Thread(
        target=lambda: outcome.append(submit_signup(run_handle, {"handle": f"@slow@127.0.0.1:{drip}"}, "203.0.113.7"))
    )
    started = time.monotonic()
    signup.start()
    time.sleep(1.0)  # the signup is now waiting on the slow server
    for number in range(3):
        before = time.monotonic()
        with write_scope() as session:
            create_account(session, f"other{number}@example.org", handle=f"other{number}")
        assert time.monotonic() - before < 1.0, "a write waited on the signup's fetch"
    signup.join(timeout=DEADLINE + 10)
    assert not signup.is_alive()
    assert time.monotonic() - started < DEADLINE + 5
    attempt, status = outcome[0]
    # The form says only that the account could not be reached (what the lookup met goes to the log).
    assert status == 400 and attempt.errors["handle"] == HANDLE_UNUSABLE  # type: ignore[attr-defined]
    with session_scope() as session:
        assert session.scalar(select(Enrollment.id).where(Enrollment.actor.is_not(None))) is None


def test_federation_a_move_to_an_account_on_a_slow_server_does_not_stall_other_writes(
    short_deadline: Settings, drip: int
) -> None:
    # The inbox worker refreshes a Move's target before it opens its write transaction.
    alice, target = "http://127.0.0.1:9/users/alice", f"http://127.0.0.1:{drip}/users/slow"
    with session_scope() as session:
        session.add(
            InboxActivity(
                activity_id=f"{alice}#move", type="Move", actor=alice, recipient=None, received_at=now(),
                payload={"id": f"{alice}#move", "type": "Move", "actor": alice, "object": alice, "target": target},
                next_attempt_at=now(),
            )
        )  # fmt: skip
    worked: list[int] = []
    worker = threading.Thread(target=lambda: worked.append(inbox.process_inbox()))
    started = time.monotonic()
    worker.start()
    time.sleep(1.0)  # the worker is now waiting on the slow server
    for number in range(3):
        before = time.monotonic()
        with write_scope() as session:
            create_account(session, f"other{number}@example.org", handle=f"other{number}")
        assert time.monotonic() - before < 1.0, "a write waited on the inbox worker's fetch"
    worker.join(timeout=DEADLINE + 10)
    assert not worker.is_alive() and worked == [1]
    assert time.monotonic() - started < DEADLINE + 5
    with session_scope() as session:
        row = session.scalar(select(InboxActivity))
        assert row is not None and row.state == "queued"  # tried again later
        assert "cannot fetch move target" in (row.last_error or "") and "within" in (row.last_error or "")
