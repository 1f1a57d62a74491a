"""The streaming API's reaction to community events: after the transaction that made a status or
a notification commits, render it once and hand it to the hub (web.api.hub), which reaches the
listening clients of this process or, through Redis, of every web process.

The handlers only note what happened on the session; rendering and publishing wait for the commit
(a rolled-back status is never streamed) and run only when someone can be listening.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from community.models import FeedEntry, Notification, Profile, Status, StatusTag, Tag
from server.floor.db import session_scope
from server.floor.events import subscribe
from web.api.entities import StatusRenderer, notification
from web.api.hub import EVERYONE, HUB

PENDING = "api_streaming_pending"
HOOKED = "api_streaming_hooked"
MAX_FEED_KEYS = 100_000
log = logging.getLogger("mechmooc.api.streaming")


def register() -> None:
    """Subscribe to the community events the streaming API relays."""
    subscribe("status.created", lambda session, payload: _note(session, "update", payload))
    subscribe("status.updated", lambda session, payload: _note(session, "status.update", payload))
    subscribe("status.deleted", lambda session, payload: _note(session, "delete", payload))
    subscribe("notification.created", lambda session, payload: _note(session, "notification", payload))


def _note(session: Session, kind: str, payload: dict[str, Any]) -> None:
    if not HUB.active():
        return
    # Noted with the transaction it happened in: a savepoint rolled back takes its notes with it.
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(PENDING, []).append((transaction, kind, dict(payload)))
    if not session.info.get(HOOKED):
        session.info[HOOKED] = True
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", _after_rollback)


def _within(transaction: Any, ancestor: Any) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _after_rollback(session: Session, previous_transaction: Any) -> None:
    pending = session.info.get(PENDING, [])
    session.info[PENDING] = [entry for entry in pending if not _within(entry[0], previous_transaction)]


def _after_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint released: its notes wait for the real commit (SQLAlchemy calls this hook for both)
    for _transaction, kind, payload in session.info.pop(PENDING, []):
        try:
            relay(kind, payload)
        except Exception:  # noqa: BLE001 - streaming is best effort; the change itself is committed
            log.exception("streaming: could not relay %s %s", kind, payload)


def relay(kind: str, payload: dict[str, Any]) -> None:
    """Render the event's entity and publish it to its streams."""
    if kind == "delete":
        HUB.publish([EVERYONE], "delete", str(payload["status_id"]))
        return
    with session_scope() as db:
        if kind == "notification":
            row = db.get(Notification, payload["notification_id"])
            recipient = db.get(Profile, row.profile_id) if row is not None else None
            if row is None or recipient is None:
                return
            entity = notification(db, row, StatusRenderer(db, recipient))
            if entity is not None:
                HUB.publish([f"user:notification:{row.profile_id}"], "notification", entity)
            return
        status = db.get(Status, payload["status_id"])
        if status is None or status.deleted or status.held:
            return
        entity = StatusRenderer(db, None).one(status)
        if entity is None:
            return
        for flag in ("favourited", "reblogged", "muted", "bookmarked"):
            entity.setdefault(flag, False)
        HUB.publish(_status_keys(db, status), kind, entity)


def _status_keys(db: Session, status: Status) -> list[str]:
    keys = [
        f"user:{pid}"
        for pid in db.scalars(select(FeedEntry.profile_id).where(FeedEntry.status_id == status.id).limit(MAX_FEED_KEYS))
    ]
    if status.visibility == "public" and status.reblog_of_id is None:
        keys += ["public", "public:local" if status.local else "public:remote"]
        names = db.scalars(
            select(Tag.name).join(StatusTag, StatusTag.tag_id == Tag.id).where(StatusTag.status_id == status.id)
        )
        for name in names:
            keys.append(f"hashtag:{name}")
            if status.local:
                keys.append(f"hashtag:local:{name}")
    return keys
