"""The streaming hub: who listens to which stream in this process, and how a message reaches them.

A message is `{"keys": [...], "event": "update", "payload": "<JSON text>"}`; a key names one stream
of one audience (`user:123`, `user:notification:123`, `public`, `public:local`, `hashtag:python`...).
Published from any thread (after a commit, `web.api.reactions`), it reaches listeners through the
event loop that serves them. With several web processes (a Redis broker configured), messages go
through Redis pub/sub and every process hands them to its own listeners; on the embedded default
they stay in the process.

Each listener has a bounded queue: a client too slow to read loses messages rather than growing
the server's memory (Mastodon's streaming server drops them likewise).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from server.floor.config import get_settings
from web.api import relay  # (also declares its prune job in every process)

CHANNEL = "mechmooc:streaming"
EVERYONE = "*"  # a key meaning every listener (deletes: the id alone tells nothing)
QUEUE_SIZE = 500
POLL_SECONDS = 0.5
log = logging.getLogger("mechmooc.api.streaming")


@dataclass(eq=False)
class Listener:
    """One connected client: its queue and the streams it subscribed to (key -> stream as shown)."""

    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    streams: dict[str, list[str]] = field(default_factory=dict)


class Hub:
    """The listeners of this process, by key."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_key: dict[str, set[Listener]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.redis_task: asyncio.Task[None] | None = None
        self.serving = False

    def attach(self) -> None:
        """Called from the serving event loop when a client connects: remember it, listen to Redis."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            self.loop = loop
            self.redis_task = None
        url = redis_url()
        if self.redis_task is None or self.redis_task.done():
            # Redis between web processes; else the rows the embedded worker leaves (web.api.relay).
            self.redis_task = loop.create_task(self._listen_redis(url) if url else self._poll_rows())

    def subscribe(self, listener: Listener, key: str, stream: list[str]) -> None:
        """`listener` gets the messages of `key`, labelled `stream`."""
        with self.lock:
            listener.streams[key] = stream
            self.by_key.setdefault(key, set()).add(listener)

    def unsubscribe(self, listener: Listener, key: str | None = None) -> None:
        """Stop one stream of `listener` (every one when key is None)."""
        with self.lock:
            for each in [key] if key is not None else list(listener.streams):
                listener.streams.pop(each, None)
                found = self.by_key.get(each)
                if found is not None:
                    found.discard(listener)
                    if not found:
                        del self.by_key[each]

    def listeners(self) -> int:
        """How many listeners are connected (for tests and benches)."""
        with self.lock:
            return len({listener for found in self.by_key.values() for listener in found})

    def deliver(self, message: dict[str, Any]) -> None:
        """Hand `message` to the listeners of its keys (in the event loop's thread): once per stream a
        listener subscribed to (a client on `public` and `hashtag:x` gets a tagged status twice, each
        labelled, as from Mastodon)."""
        with self.lock:
            if EVERYONE in message["keys"]:
                everyone = {listener for found in self.by_key.values() for listener in found}
                targets = [(listener, listener.streams[next(iter(listener.streams))]) for listener in everyone]
            else:
                targets = [
                    (listener, listener.streams.get(key, [key]))
                    for key in message["keys"]
                    for listener in self.by_key.get(key, ())
                ]
        seen: set[tuple[Listener, tuple[str, ...]]] = set()
        for listener, label in targets:
            if (listener, tuple(label)) in seen:
                continue
            seen.add((listener, tuple(label)))
            item = {"stream": label, "event": message["event"], "payload": message["payload"]}
            try:
                listener.queue.put_nowait(item)
            except asyncio.QueueFull:
                log.info("streaming: a slow client lost a %s message", message["event"])

    def serve(self) -> None:
        """Mark this process as the one serving the streaming endpoints (its routes were built)."""
        self.serving = True

    def active(self) -> bool:
        """True when a message published here may reach someone: through Redis, to this web process's
        clients once one has connected, or (a process serving none: the embedded worker) to the web
        process through `web.api.relay`."""
        return redis_url() is not None or not self.serving or (self.loop is not None and self.listeners() > 0)

    def publish(self, keys: list[str], event: str, payload: Any) -> None:
        """Send an event to the listeners of `keys`, in every web process (from any thread)."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        message = {"keys": keys, "event": event, "payload": text}
        url = redis_url()
        if url:
            _redis_client(url).publish(CHANNEL, json.dumps(message))
            return
        loop = self.loop
        if loop is None or loop.is_closed():
            if not self.serving:  # the embedded worker: the web process reads it from the database
                relay.write(keys, event, text)
            return
        try:
            loop.call_soon_threadsafe(self.deliver, message)
        except RuntimeError:  # the loop stopped meanwhile
            return

    async def _poll_rows(self) -> None:
        last = await asyncio.to_thread(relay.newest_id)
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if not self.listeners():
                continue
            for row in await asyncio.to_thread(relay.read_after, last):
                last = row["id"]
                self.deliver(row)

    async def _listen_redis(self, url: str) -> None:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(url)
        pubsub = client.pubsub()
        await pubsub.subscribe(CHANNEL)
        try:
            async for raw in pubsub.listen():
                if raw.get("type") != "message":
                    continue
                try:
                    message = json.loads(raw["data"])
                except ValueError:
                    continue
                if isinstance(message, dict) and isinstance(message.get("keys"), list):
                    self.deliver(message)
        finally:
            await pubsub.aclose()
            await client.aclose()


_clients: dict[str, Any] = {}


def _redis_client(url: str) -> Any:
    import redis

    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url)
    return _clients[url]


def redis_url() -> str | None:
    """The Redis of a production setup (the broker's), or None on the embedded default."""
    broker = get_settings().broker_url or ""
    return broker if broker.startswith(("redis://", "rediss://")) else None


HUB = Hub()
