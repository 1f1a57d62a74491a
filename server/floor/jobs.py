"""The task base: domain packages declare background jobs here; the roof makes Celery tasks of them.

A job is a plain function of no arguments that claims due rows and works them (see
`server.floor.queue`). `every` makes it periodic (the scheduler runs it); `wake(name)` asks a worker to
run it soon (the broker only wakes workers up; the rows hold the state).

No wake-up is lost, at either end:
- `wake` is called after the caller's commit. It sends a message at once, or, when it sent one for
  the same job less than WAKE_GAP ago, makes sure one more leaves after the gap (one message then
  stands for every wake-up of the gap: a busy inbox does not send a message per activity);
- a worker runs a job through `run(name)`: a wake-up that arrives while the job runs in that
  process makes the running job go once more when it ends, so whatever was committed before the
  wake-up is claimed by a run that starts after it. (A job that only looked for due rows once more
  at its end, and a sender that woke nobody when work was due already, lost the rows that came in
  between until the next periodic tick: a second Follow 0.1 s after the first waited 28 s.)
- work written for later (a mail rendered ahead of its 09:00) wakes its job at that instant:
  `wake_at` arms a timer in the process that knows the instant; `wake_after_commit` wakes (now or at
  an instant) once the caller's transaction commits, so a row is never looked for before it is
  visible. (Mails due at once, or at their instant, waited up to the 5 s tick of `mail.send`.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

from server.floor.clock import now

JobFunction = Callable[[], object]


@dataclass(frozen=True)
class Job:
    """A declared background job."""

    name: str
    function: JobFunction
    every: float | None
    queue: str
    # What a run that did something says in the console, `{n}` the count the function returned
    # ("sent {n} mails"); a job without one (or a run that did nothing) says nothing.
    summary: str | None = None

    def summarise(self, result: object) -> str | None:
        """The console line for a run that returned `result`, or None when there is nothing to say."""
        if self.summary is None or isinstance(result, bool) or not isinstance(result, int) or result <= 0:
            return None
        return self.summary.format(n=result)


_jobs: dict[str, Job] = {}
_wakers: list[Callable[[str], None]] = []


def job(
    name: str, every: float | None = None, queue: str = "default", summary: str | None = None
) -> Callable[[JobFunction], JobFunction]:
    """Declare `function` as the background job `name`, periodic every `every` seconds if given; `summary`
    (like "sent {n} mails") is what a run that returned a positive count says in the console."""

    def register(function: JobFunction) -> JobFunction:
        _jobs[name] = Job(name=name, function=function, every=every, queue=queue, summary=summary)
        return function

    return register


def registered() -> dict[str, Job]:
    """Every declared job by name."""
    return dict(_jobs)


def set_waker(waker: Callable[[str], None]) -> None:
    """Install how `wake` reaches the workers (the Celery app does this)."""
    _wakers.clear()
    _wakers.append(waker)
    with _wake_lock:
        _last_sent.clear()  # a new way to the workers: its first wake-up leaves at once


WAKE_GAP = 0.05  # seconds between two wake-up messages of one job from one process (latency it may add)
_wake_lock = threading.Lock()
_last_sent: dict[str, float] = {}
_pending: set[str] = set()  # jobs whose next message leaves when their gap is over


def wake(name: str) -> None:
    """Ask a worker to run job `name` soon (call it after committing the work); harmless if no worker
    listens (the scheduler will). Never dropped: at most WAKE_GAP later, a message leaves for it."""
    if not _wakers:
        return
    with _wake_lock:
        if name in _pending:
            return  # the message due after the gap leaves after this commit too: it stands for both
        wait = _last_sent.get(name, float("-inf")) + WAKE_GAP - time.monotonic()
        if wait > 0:
            _pending.add(name)
            timer = threading.Timer(wait, _send_pending, (name,))
            timer.daemon = True
            timer.start()
            return
        _last_sent[name] = time.monotonic()
    _send(name)


def _send_pending(name: str) -> None:
    with _wake_lock:
        _pending.discard(name)
        _last_sent[name] = time.monotonic()
    _send(name)


_timers: dict[tuple[str, float], threading.Timer] = {}  # (job, instant) -> its armed timer
TIMER_SLACK = 0.005  # seconds after the instant: the job's claim (`<= now()`) then sees the row as due


def wake_at(name: str, instant: datetime) -> None:
    """Wake job `name` at `instant` (at once if it is past): a timer in this process, one per job and
    instant however often it is asked for. Harmless if no worker listens; a process that stops before
    the instant leaves it to the periodic tick, as before."""
    if not _wakers:
        return
    delay = (instant - now()).total_seconds()
    if delay <= 0:
        wake(name)
        return
    key = (name, instant.timestamp())
    with _wake_lock:
        if key in _timers:
            return
        timer = threading.Timer(delay + TIMER_SLACK, _fire, key)
        timer.daemon = True
        _timers[key] = timer
    timer.start()


def _fire(name: str, instant: float) -> None:
    with _wake_lock:
        _timers.pop((name, instant), None)
    wake(name)


def armed(name: str) -> list[datetime]:
    """The instants job `name` will be woken at by `wake_at` in this process (diagnostics, tests)."""
    with _wake_lock:
        return sorted(datetime.fromtimestamp(at, UTC) for job_name, at in _timers if job_name == name)


AFTER_COMMIT = "mechmooc.wake_after_commit"  # session.info key: job -> the earliest instant asked (None: now)


def wake_after_commit(session: Session, name: str, at: datetime | None = None) -> None:
    """Wake job `name` when `session`'s transaction commits: at once, or at `at` if that is later. Several
    calls in one transaction wake once, at the earliest instant asked. Nothing is woken before the
    commit (the job would not see the rows yet); after a rollback, the next commit wakes (harmless)."""
    wanted = session.info.setdefault(AFTER_COMMIT, {})
    if name not in wanted:
        wanted[name] = at
    elif wanted[name] is not None:
        wanted[name] = None if at is None else min(wanted[name], at)


@event.listens_for(Session, "after_commit")
def _wake_committed(session: Session) -> None:
    wanted = session.info.pop(AFTER_COMMIT, None)
    for name, at in (wanted or {}).items():
        if at is None:
            wake(name)
        else:
            wake_at(name, at)


def _send(name: str) -> None:
    for waker in _wakers:
        try:
            waker(name)
        except Exception:  # noqa: BLE001 - the periodic tick is the safety net
            pass


_run_lock = threading.Lock()
_woken: dict[str, int] = {}  # job -> wake-ups received while it runs in this process


def run(name: str, function: JobFunction | None = None) -> object:
    """Run job `name` (what a worker does with a wake-up or a tick). If it runs in this process already,
    return at once: the running one goes once more when it ends. The counts of every pass, added up."""
    function = function or _jobs[name].function
    with _run_lock:
        if name in _woken:
            _woken[name] += 1
            return None
        _woken[name] = 0
    total: object = None
    try:
        while True:
            result = function()
            both_counts = isinstance(result, int) and isinstance(total, int)
            total = total + result if both_counts else result  # type: ignore[operator]
            with _run_lock:
                if not _woken[name]:
                    del _woken[name]
                    return total
                _woken[name] = 0  # woken meanwhile: what came in may have missed this pass's claims
    except BaseException:
        with _run_lock:
            _woken.pop(name, None)  # a failed pass is not repeated at once (a spin); the tick comes
        raise
