"""Streaming messages between the processes of the embedded default (no Redis): a process that
serves no streaming clients (the embedded worker, a CLI command) writes its messages to
`api_stream_messages`; the web process, while it has listeners, reads the new rows twice a second
and hands them to its hub. Rows older than two minutes are dropped (a job, and each write)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select

from server.floor.clock import now
from server.floor.db import session_scope
from server.floor.jobs import job
from web.api.models import StreamMessage

KEEP = timedelta(minutes=2)
BATCH = 500


def write(keys: list[str], event: str, payload: str) -> None:
    """Leave a message for the web process."""
    with session_scope() as db:
        db.add(StreamMessage(keys=keys, event=event, payload=payload, created_at=now()))


def newest_id() -> int:
    """Where a reader starts: after every message already written."""
    with session_scope() as db:
        return int(db.scalar(select(func.max(StreamMessage.id))) or 0)


def read_after(last_id: int) -> list[dict[str, Any]]:
    """Messages written after `last_id`, oldest first (at most BATCH), each with its id."""
    with session_scope() as db:
        rows = db.scalars(
            select(StreamMessage)
            .where(StreamMessage.id > last_id, StreamMessage.created_at > now() - KEEP)
            .order_by(StreamMessage.id)
            .limit(BATCH)
        )
        return [{"id": r.id, "keys": list(r.keys), "event": r.event, "payload": r.payload} for r in rows]


@job("api.streaming.prune", every=60)
def prune() -> int:
    """Drop messages no reader can still want."""
    with session_scope() as db:
        result = db.execute(delete(StreamMessage).where(StreamMessage.created_at <= now() - KEEP))
        return int(getattr(result, "rowcount", 0) or 0)
