"""The task base: domain packages declare background jobs here; the roof makes Celery tasks of them.

A job is a plain function of no arguments that claims due rows and works them (see
`server.floor.queue`). `every` makes it periodic (the scheduler runs it); `wake(name)` asks a worker to
run it soon (the broker only wakes workers up; the rows hold the state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

JobFunction = Callable[[], object]


@dataclass(frozen=True)
class Job:
    """A declared background job."""

    name: str
    function: JobFunction
    every: float | None
    queue: str


_jobs: dict[str, Job] = {}
_wakers: list[Callable[[str], None]] = []


def job(name: str, every: float | None = None, queue: str = "default") -> Callable[[JobFunction], JobFunction]:
    """Declare `function` as the background job `name`, periodic every `every` seconds if given."""

    def register(function: JobFunction) -> JobFunction:
        _jobs[name] = Job(name=name, function=function, every=every, queue=queue)
        return function

    return register


def registered() -> dict[str, Job]:
    """Every declared job by name."""
    return dict(_jobs)


def set_waker(waker: Callable[[str], None]) -> None:
    """Install how `wake` reaches the workers (the Celery app does this)."""
    _wakers.clear()
    _wakers.append(waker)


def wake(name: str) -> None:
    """Ask a worker to run job `name` soon; harmless if no worker listens (the scheduler will)."""
    for waker in _wakers:
        try:
            waker(name)
        except Exception:  # noqa: BLE001 - the periodic tick is the safety net
            pass
