"""No wake-up is lost (issue 16): the sender coalesces without dropping, a running job goes again.

A second Follow 0.1 s after the first waited 28 s for the inbox job's next tick: the inbox woke no
worker while another activity was due (the job had claimed it and was about to end), and nothing
made a job that was running look again. bench/inbox_latency.py measures the whole path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from server.floor import jobs
from server.floor.clock import now


@pytest.fixture(autouse=True)
def _declared_jobs_restored() -> Iterator[None]:
    saved = dict(jobs._jobs)
    yield
    jobs._jobs.clear()
    jobs._jobs.update(saved)


def _eventually(condition: object, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_a_burst_of_wake_ups_sends_two_messages_and_drops_none(sent: list[str]) -> None:
    for _ in range(200):
        jobs.wake("test.burst")
    assert sent == ["test.burst"]  # the first leaves at once
    _eventually(lambda: len(sent) == 2)
    # ... and one more after the gap stands for the 199 others (sent after all their commits).
    assert sent == ["test.burst", "test.burst"]
    time.sleep(jobs.WAKE_GAP * 3)
    assert len(sent) == 2
    jobs.wake("test.burst")  # long after the gap: at once again
    assert len(sent) == 3


def test_other_jobs_are_not_held_back(sent: list[str]) -> None:
    jobs.wake("test.a")
    jobs.wake("test.b")
    assert sent == ["test.a", "test.b"]


def _blocking_job(name: str) -> tuple[list[int], threading.Event, threading.Event]:
    calls: list[int] = []
    started, release = threading.Event(), threading.Event()

    def work() -> int:
        calls.append(1)
        if len(calls) == 1:
            started.set()
            release.wait(10)
        return 3

    jobs.job(name)(work)
    return calls, started, release


def test_a_wake_up_while_the_job_runs_makes_it_run_again() -> None:
    calls, started, release = _blocking_job("test.rerun")
    results: list[object] = []
    first = threading.Thread(target=lambda: results.append(jobs.run("test.rerun")))
    first.start()
    assert started.wait(10)
    # The wake-up's task, taken by the worker's other thread while the first run claims its last rows.
    assert jobs.run("test.rerun") is None and jobs.run("test.rerun") is None
    release.set()
    first.join(10)
    assert len(calls) == 2  # once more for both wake-ups (one pass looks at everything committed)
    assert results == [6]  # the counts of both passes
    assert jobs.run("test.rerun") == 3 and len(calls) == 3  # not running: runs at once, once


def test_a_failing_run_does_not_leave_the_job_marked_running() -> None:
    def broken() -> int:
        raise RuntimeError("database gone")

    jobs.job("test.broken")(broken)
    with pytest.raises(RuntimeError):
        jobs.run("test.broken")
    with pytest.raises(RuntimeError):
        jobs.run("test.broken")  # would return None for ever if the first had stayed "running"


def test_wake_at_wakes_once_at_its_instant_however_often_asked(sent: list[str]) -> None:
    instant = now() + timedelta(seconds=1)
    for _ in range(3):  # each send and schedule pass asks for the next mail's instant again
        jobs.wake_at("test.later", instant)
    assert sent == [] and jobs.armed("test.later") == [instant]  # armed, not sent: not due yet
    _eventually(lambda: sent)
    assert sent == ["test.later"] and jobs.armed("test.later") == []
    jobs.wake_at("test.later", now() - timedelta(seconds=1))  # an instant gone by: now (after WAKE_GAP)
    assert jobs.armed("test.later") == []
    _eventually(lambda: len(sent) == 2)
    assert sent == ["test.later", "test.later"]


def test_a_wake_after_commit_leaves_at_the_commit_only(sent: list[str]) -> None:
    session = Session(create_engine("sqlite://"))
    session.execute(text("SELECT 1"))
    jobs.wake_after_commit(session, "test.committed")
    jobs.wake_after_commit(session, "test.committed", now() + timedelta(hours=1))  # at once wins
    later = now() + timedelta(minutes=5)
    jobs.wake_after_commit(session, "test.ahead", later)
    jobs.wake_after_commit(session, "test.ahead", later + timedelta(minutes=1))  # the earliest wins
    assert sent == []  # the job would not see the rows yet
    session.commit()
    assert sent == ["test.committed"] and jobs.armed("test.ahead") == [later]
    session.execute(text("SELECT 1"))
    session.commit()
    assert sent == ["test.committed"]  # asked once, woken once
    session.close()
