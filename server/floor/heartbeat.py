"""The worker heartbeat: proof that a worker is alive, read by `/healthz`.

A worker beats from a thread of its own every HEARTBEAT_EVERY seconds (`start_beating`), so a worker
whose every slot is on a long job (a big mail pass) is still seen alive, and one that died is seen dead
STALE_AFTER later. The periodic job `server.heartbeat` beats under the name `host:pid jobs`: it proves
that the scheduler sends periodic jobs and a worker runs them (JOBS_STALE_AFTER, looser: a busy worker
runs them late).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from sqlalchemy import String, delete, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.floor.clock import now
from server.floor.db import Base, UTCDateTime, write_scope
from server.floor.jobs import job

log = logging.getLogger(__name__)
HEARTBEAT_EVERY = 5.0
# A worker silent for this long (four beats missed) is presumed dead; its row is forgotten a day later.
STALE_AFTER = timedelta(seconds=20)
JOBS_STALE_AFTER = timedelta(minutes=2)
JOBS = " jobs"  # the suffix of the rows the periodic job writes
FORGET_AFTER = timedelta(days=1)


class WorkerHeartbeat(Base):
    """The last time a given worker process ran the heartbeat job."""

    __tablename__ = "worker_heartbeats"

    worker: Mapped[str] = mapped_column(String(200), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    beats: Mapped[int] = mapped_column(default=0)


def worker_name() -> str:
    """This process as a worker: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def record_beat(session: Session, worker: str, at: datetime) -> WorkerHeartbeat:
    """Note that `worker` was alive at `at` (one row per worker, updated in place)."""
    row = session.get(WorkerHeartbeat, worker)
    if row is None:
        row = WorkerHeartbeat(worker=worker, beat_at=at, beats=0)
        session.add(row)
    row.beat_at = at
    row.beats += 1
    session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < at - FORGET_AFTER))
    session.flush()
    return row


def last_beat(session: Session, jobs: bool = False) -> datetime | None:
    """When any worker last beat (`jobs`: last ran the periodic heartbeat job), or None if none ever did."""
    query = select(func.max(WorkerHeartbeat.beat_at))
    if jobs:
        query = query.where(WorkerHeartbeat.worker.endswith(JOBS))
    return session.scalar(query)


def beat(name: str) -> None:
    """Record that the worker `name` is alive now."""
    # write_scope: the beat reads its row, then writes, while web requests write too (SQLite).
    try:
        with write_scope() as session:
            record_beat(session, name, now())
    except IntegrityError:
        # Only a worker's very first beat can race (two threads inserting its row); the next wins.
        with write_scope() as session:
            record_beat(session, name, now())


@job("server.heartbeat", every=HEARTBEAT_EVERY)
def heartbeat() -> None:
    """Record that periodic jobs reach this worker."""
    beat(worker_name() + JOBS)


def start_beating(every: float = HEARTBEAT_EVERY) -> threading.Event:
    """Beat now and then every `every` seconds from a daemon thread of this process, until the returned
    event is set (or the process ends)."""
    stop = threading.Event()

    def run() -> None:
        while True:
            try:
                beat(worker_name())
            except SQLAlchemyError as error:
                # The database is away: /healthz says so itself; beat again when it is back.
                log.warning("heartbeat not recorded: %s", str(error).splitlines()[0][:200])
            if stop.wait(every):
                return

    threading.Thread(target=run, name="heartbeat", daemon=True).start()
    return stop
