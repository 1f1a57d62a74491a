"""The worker heartbeat: a periodic job that proves a worker is alive, read by `/healthz`."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import String, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.floor.clock import now
from server.floor.db import Base, UTCDateTime, write_scope
from server.floor.jobs import job

HEARTBEAT_EVERY = 10.0
# A worker silent for this long is presumed dead; its row is forgotten a day later.
STALE_AFTER = timedelta(seconds=60)
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


def last_beat(session: Session) -> datetime | None:
    """When any worker last ran the heartbeat, or None if none ever did."""
    return session.scalar(select(func.max(WorkerHeartbeat.beat_at)))


@job("server.heartbeat", every=HEARTBEAT_EVERY)
def heartbeat() -> None:
    """Record that this worker is alive."""
    # write_scope: the beat reads its row, then writes, while web requests write too (SQLite).
    try:
        with write_scope() as session:
            record_beat(session, worker_name(), now())
    except IntegrityError:
        # Only a worker's very first beat can race (two threads inserting its row); the next wins.
        with write_scope() as session:
            record_beat(session, worker_name(), now())
