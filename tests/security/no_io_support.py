"""Support for the no-I/O-in-writes tests: a guard on the fetch transport, and a remote server on 127.0.0.1.

`WriteWatch` follows, per thread, which database connections are inside a transaction and which of
those have written (SQLAlchemy events: begin and a write statement mark the connection; commit,
rollback and the pool's check-in clear it). Wrapped around the SSRF guard's transports, which every
fetch and delivery goes through, it records each request made while the requesting thread has a
transaction open. One that has written is the harm itself: on SQLite that thread holds the one
write lock while it waits on another server. One that has only read is the shape that becomes it
(the caller writes next, in the same transaction) and holds a pooled connection across the
network; the rule is "fetch first, then open the transaction", so both count.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.pool import Pool

from federation.protocol.crypto import SigningKey, generate_pem
from federation.transport.guard import AsyncGuardedTransport, GuardedTransport
from federation.transport.poster import Answer, Poster
from tests.federation.conftest import payload

# Statements that make a transaction hold (SQLite: take) the write lock until it ends.
WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN", "CREATE", "DROP", "ALTER"})


class WriteWatch:
    """Which threads hold a transaction that has written; the requests made while one did."""

    def __init__(self) -> None:
        # id(DBAPI connection) -> (thread, first write statement, or "" while it has only read)
        self._writing: dict[int, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self.requests: list[str] = []
        self.violations: list[str] = []

    def began(self, conn: Any) -> None:
        """begin of a Connection's transaction: open in this thread, nothing written yet."""
        with self._lock:
            self._writing.setdefault(id(conn.connection.dbapi_connection), (threading.get_ident(), ""))

    def executed(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        """after_cursor_execute: a write marks the connection's transaction as having written."""
        words = statement.lstrip().split(None, 1)
        key = id(conn.connection.dbapi_connection)
        if words and words[0].upper() in WRITES:
            with self._lock:
                if not self._writing.get(key, (0, ""))[1]:
                    self._writing[key] = (threading.get_ident(), statement)

    def ended(self, conn: Any) -> None:
        """commit / rollback of a Connection: its transaction is over."""
        with self._lock:
            self._writing.pop(id(conn.connection.dbapi_connection), None)

    def checked_in(self, dbapi_connection: Any, _record: Any) -> None:
        """A connection back in the pool was rolled back (reset on return)."""
        with self._lock:
            self._writing.pop(id(dbapi_connection), None)

    def request(self, url: str) -> None:
        """A request leaves for `url` from this thread: a violation if it holds a written transaction."""
        me = threading.get_ident()
        with self._lock:
            self.requests.append(url)
            held = sorted((statement for thread, statement in self._writing.values() if thread == me), reverse=True)
            if held and held[0]:
                self.violations.append(f"{url} requested inside a write transaction (after {held[0][:100]!r})")
            elif held:
                self.violations.append(f"{url} requested inside an open transaction (it has read; writes may follow)")

    def take_violations(self) -> list[str]:
        """The violations so far, cleared."""
        with self._lock:
            found, self.violations = self.violations, []
            return found


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Iterator[WriteWatch]:
    """The guard: fails the test when a request leaves a thread that has a transaction open."""
    watcher = WriteWatch()
    listeners = [
        (Engine, "begin", watcher.began),
        (Engine, "after_cursor_execute", watcher.executed),
        (Engine, "commit", watcher.ended),
        (Engine, "rollback", watcher.ended),
        (Pool, "checkin", watcher.checked_in),
    ]
    for target, name, function in listeners:
        event.listen(target, name, function)
    sync_send, async_send = GuardedTransport.handle_request, AsyncGuardedTransport.handle_async_request
    poster_post = Poster.post  # deliveries' client

    def guarded_sync(self: GuardedTransport, request: httpx.Request) -> httpx.Response:
        watcher.request(str(request.url))
        return sync_send(self, request)

    async def guarded_async(self: AsyncGuardedTransport, request: httpx.Request) -> httpx.Response:
        watcher.request(str(request.url))
        return await async_send(self, request)

    async def guarded_post(self: Poster, url: str, headers: dict[str, str], body: bytes) -> Answer:
        watcher.request(url)
        return await poster_post(self, url, headers, body)

    monkeypatch.setattr(Poster, "post", guarded_post)
    monkeypatch.setattr(GuardedTransport, "handle_request", guarded_sync)
    monkeypatch.setattr(AsyncGuardedTransport, "handle_async_request", guarded_async)
    try:
        yield watcher
    finally:
        for target, name, function in listeners:
            event.remove(target, name, function)
    assert not watcher.violations, "network I/O inside a write transaction:\n" + "\n".join(watcher.violations)


class FakeRemote:
    """Another server on 127.0.0.1: serves the JSON documents it holds by path, records what was asked."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.webfinger: dict[str, str] = {}  # acct:user@host -> actor id
        self.asked: list[str] = []
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                remote.asked.append(self.path)
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/webfinger":
                    resource = (parse_qs(parts.query).get("resource") or [""])[0]
                    href = remote.webfinger.get(resource)
                    links = [{"rel": "self", "type": "application/activity+json", "href": href}]
                    document: dict[str, Any] | None = {"subject": resource, "links": links} if href else None
                else:
                    document = remote.documents.get(parts.path)
                body = json.dumps(document).encode() if document is not None else b"{}"
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/activity+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - deliveries are welcome and ignored
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.base = f"http://{self.host}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def actor(self, name: str, kind: str = "Person", **extra: Any) -> tuple[str, SigningKey]:
        """A Mastodon-like actor `name` here (WebFinger too); its id and its signing key."""
        private, public = generate_pem()
        actor_id = f"{self.base}/users/{name}"
        document = copy.deepcopy(payload("mastodon-person"))
        document |= {
            "id": actor_id, "type": kind, "preferredUsername": name, "name": name.title(), "url": actor_id,
            "inbox": f"{actor_id}/inbox", "outbox": f"{actor_id}/outbox", "followers": f"{actor_id}/followers",
            "following": f"{actor_id}/following", "featured": f"{actor_id}/featured",
            "featuredTags": f"{actor_id}/tags", "devices": f"{actor_id}/devices",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {"id": f"{actor_id}#main-key", "owner": actor_id, "publicKeyPem": public}, **extra,
        }  # fmt: skip
        self.serve(document)
        self.webfinger[f"acct:{name}@{self.host}"] = actor_id
        return actor_id, SigningKey(key_id=f"{actor_id}#main-key", private_pem=private)

    def serve(self, document: dict[str, Any]) -> None:
        """Serve `document` at the path of its id."""
        self.documents[urlsplit(document["id"]).path] = document

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeRemote]:
    """Another server, on 127.0.0.1 (the test instance runs with MECHMOOC_INSECURE_HTTP=1)."""
    remote = FakeRemote()
    yield remote
    remote.close()
