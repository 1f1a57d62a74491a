"""The streaming hub without a server: delivery per subscribed stream, bounded queues, and the
Redis pub/sub path that carries messages between web processes (Redis must be running; skipped
otherwise outside CI)."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
import redis

from tests.support.backends import IN_CI
from web.api import hub as hub_module
from web.api.hub import EVERYONE, Hub, Listener

REDIS = "redis://127.0.0.1:6379/15"


def test_delivery_once_per_stream_and_everyone() -> None:
    async def scenario() -> None:
        hub = Hub()
        hub.attach()
        a, b = Listener(), Listener()
        hub.subscribe(a, "public", ["public"])
        hub.subscribe(a, "hashtag:python", ["hashtag", "Python"])
        hub.subscribe(b, "user:1", ["user"])
        hub.deliver({"keys": ["public", "public:local", "hashtag:python"], "event": "update", "payload": "{}"})
        assert [a.queue.get_nowait()["stream"] for _ in range(2)] == [["public"], ["hashtag", "Python"]]
        assert b.queue.empty()
        hub.deliver({"keys": [EVERYONE], "event": "delete", "payload": "7"})
        assert a.queue.get_nowait()["event"] == "delete" and b.queue.get_nowait()["payload"] == "7"
        hub.unsubscribe(a)
        assert hub.listeners() == 1

    asyncio.run(scenario())


def test_a_slow_client_loses_messages_not_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "QUEUE_SIZE", 3)

    async def scenario() -> None:
        hub = Hub()
        slow = Listener()
        hub.subscribe(slow, "public", ["public"])
        for n in range(10):
            hub.deliver({"keys": ["public"], "event": "update", "payload": str(n)})
        assert slow.queue.qsize() == 3

    asyncio.run(scenario())


def test_messages_cross_processes_through_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        redis.Redis.from_url(REDIS).ping()
    except redis.RedisError:
        if IN_CI:
            raise
        pytest.skip("no Redis on 127.0.0.1:6379")
    channel = f"mechmooc:streaming:test:{uuid.uuid4().hex}"
    monkeypatch.setattr(hub_module, "CHANNEL", channel)
    monkeypatch.setattr(hub_module, "redis_url", lambda: REDIS)

    async def scenario() -> None:
        receiving, sending = Hub(), Hub()  # two web processes' hubs
        receiving.attach()
        listener = Listener()
        receiving.subscribe(listener, "user:5", ["user"])
        await asyncio.sleep(0.3)  # the Redis subscription is up
        thread = threading.Thread(target=sending.publish, args=(["user:5"], "notification", {"id": "1"}))
        thread.start()  # published from another thread, as after a commit
        item = await asyncio.wait_for(listener.queue.get(), 5)
        thread.join()
        assert item == {"stream": ["user"], "event": "notification", "payload": '{"id": "1"}'}
        assert receiving.redis_task is not None
        receiving.redis_task.cancel()

    asyncio.run(scenario())


def test_events_are_relayed_after_the_real_commit_only(
    sqlite_settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A savepoint's release is no commit (SQLAlchemy calls after_commit for both); a savepoint rolled
    back takes its events with it; the root commit relays the rest once."""
    from server.floor.db import session_factory
    from server.floor.events import publish
    from web.api import reactions

    relayed: list[tuple[str, dict]] = []
    monkeypatch.setattr(reactions, "relay", lambda kind, payload: relayed.append((kind, payload)))
    monkeypatch.setattr(reactions.HUB, "active", lambda: True)
    session = session_factory()()
    try:
        with session.begin_nested():
            publish(session, "status.created", {"status_id": 1})
        assert relayed == []
        try:
            with session.begin_nested():
                publish(session, "status.created", {"status_id": 2})
                raise RuntimeError("the handler failed")
        except RuntimeError:
            pass
        publish(session, "status.deleted", {"status_id": 3, "profile_id": 1, "ap_id": "x", "reblog_of_id": None})
        session.commit()
        assert relayed == [
            ("update", {"status_id": 1}),
            ("delete", {"status_id": 3, "profile_id": 1, "ap_id": "x", "reblog_of_id": None}),
        ]
        publish(session, "status.created", {"status_id": 4})
        session.rollback()
        session.commit()
        assert len(relayed) == 2
    finally:
        session.close()
