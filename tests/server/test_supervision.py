"""`serve`'s children: a child that keeps dying is started again after growing waits, and `/healthz`
says so; low disk makes `/healthz` say "degraded" (issue 11, item 13).

The children here are real processes (a Python that exits at once); the waits are scaled down.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from starlette.testclient import TestClient

from server.floor.settings import Settings
from server.roof.app import create_app
from server.roof.serve import Children

DIES_AT_ONCE = [sys.executable, "-c", "import sys; sys.exit(3)"]


class QuickChildren(Children):
    """Children with the waits of the real ones divided by 25."""

    WATCH_EVERY = 0.02
    BACKOFF_BASE = 0.2
    BACKOFF_CAP = 0.8
    STABLE_AFTER = 2.4

    def __init__(self, settings: Settings, commands: dict[str, list[str]]) -> None:
        super().__init__(settings, commands)
        self.spawned: list[float] = []
        self.noticed: list[float] = []

    def _spawn(self, command: str) -> None:
        super()._spawn(command)
        self.spawned.append(time.monotonic())

    def _exited(self, command: str, code: int) -> None:
        self.noticed.append(time.monotonic())
        super()._exited(command, code)


def _run(children: Children, seconds: float) -> None:
    children.start()
    time.sleep(seconds)
    children.stop(timeout=5)


def test_a_child_that_keeps_crashing_waits_longer_each_time_up_to_the_cap(sqlite_settings: Settings) -> None:
    children = QuickChildren(sqlite_settings, {"worker": DIES_AT_ONCE})
    _run(children, 4.0)
    # From noticing an exit to the next start: 0.2, 0.4, 0.8, 0.8 ... (a watcher tick late at most).
    waits = [started - noticed for noticed, started in zip(children.noticed, children.spawned[1:], strict=False)]
    assert len(waits) >= 4, waits
    for crashes, wait in enumerate(waits, start=1):
        expected = min(children.BACKOFF_CAP, children.BACKOFF_BASE * 2 ** (crashes - 1))
        assert expected - 0.01 <= wait < expected + 0.25, (crashes, waits)
    # The old fixed restart (10 s after the start, here 0.4 s) would have started it about 10 times.
    assert len(children.spawned) <= 8, waits
    state = children.report()["worker"]
    assert state["crash_loop"] and state["crashes_in_a_row"] >= 3 and state["last_exit"] == 3
    assert state["restarts"] == len(children.spawned) - 1


def test_a_child_that_ran_a_while_before_dying_is_no_crash(sqlite_settings: Settings) -> None:
    lives_a_while = [sys.executable, "-c", "import sys, time; time.sleep(0.6); sys.exit(1)"]
    children = QuickChildren(sqlite_settings, {"worker": lives_a_while})
    children.STABLE_AFTER = 0.3
    _run(children, 2.5)
    assert len(children.spawned) >= 3
    assert children.report()["worker"]["crashes_in_a_row"] == 0
    assert not children.report()["worker"]["crash_loop"]


def test_healthz_reports_a_crash_loop_as_unhealthy(sqlite_settings: Settings) -> None:
    children = QuickChildren(sqlite_settings, {"worker": DIES_AT_ONCE, "scheduler": [sys.executable, "-c", "0"]})
    children.start()
    try:
        deadline = time.monotonic() + 10
        while not children.report()["worker"]["crash_loop"] and time.monotonic() < deadline:
            time.sleep(0.05)
        app = create_app(sqlite_settings)
        app.state.children = children
        with TestClient(app) as client:
            answer = client.get("/healthz")
    finally:
        children.stop(timeout=5)
    assert answer.status_code == 503, answer.text
    report = answer.json()
    assert report["status"] == "unhealthy" and report["children"]["ok"] is False
    assert "the worker crashed" in report["children"]["detail"] and "last exit code 3" in report["children"]["detail"]
    assert report["processes"]["worker"]["crash_loop"] is True


def test_healthz_says_degraded_when_the_disk_runs_low(sqlite_settings: Settings) -> None:
    with TestClient(create_app(sqlite_settings)) as client:
        fine = client.get("/healthz").json()
    assert fine["disk"]["ok"] and fine["status"] == "ok" and "MB free in" in fine["disk"]["detail"]
    short = replace(sqlite_settings, min_free_disk_mb=10**9)  # more than any disk has
    with TestClient(create_app(short)) as client:
        from server.floor.config import use_settings

        use_settings(short)
        try:
            answer = client.get("/healthz")
        finally:
            use_settings(sqlite_settings)
    # Still serving: 200, but the status says what a monitor should alert on.
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "degraded" and answer.json()["disk"]["ok"] is False
    assert "below 1000000000 MB" in answer.json()["disk"]["detail"]
