"""A database that goes away for a while (a restart): 503 with Retry-After, never a 500, and back by itself.

PostgreSQL is reached through a TCP proxy on 127.0.0.1 that the test closes (every connection cut,
new ones refused) and opens again: the shared server itself is never restarted.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from starlette.testclient import TestClient

from server.floor.db import get_engine, unavailable
from server.roof.app import create_app
from server.roof.bootstrap import boot
from tests.conftest import _truncate_postgres, make_settings
from tests.support.backends import require_postgres
from tests.support.smtp import free_port


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`; `close()` cuts every connection, `open()` listens again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(): close() alone does not
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.sockets.clear()


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[TestClient, TcpProxy]]:
    """A whole instance on PostgreSQL, reached through a proxy the test can cut."""
    require_postgres()
    direct = make_settings(tmp_path, "postgres")
    boot(direct)
    _truncate_postgres()
    get_engine().dispose()
    url = direct.database_url
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    proxy = TcpProxy((host, int(port or 5432)))
    proxy.open()
    settings = make_settings(tmp_path, "postgres", database_url=url.replace(host_port, f"127.0.0.1:{proxy.port}"))
    booted = boot(settings, migrate=False)
    with TestClient(
        create_app(booted), base_url="http://testserver.localhost", raise_server_exceptions=False
    ) as client:
        yield client, proxy
    proxy.close()
    get_engine().dispose()


@pytest.mark.postgres
def test_a_database_restart_answers_503_with_retry_after_then_recovers(proxied) -> None:
    client, proxy = proxied
    assert client.get("/courses").status_code == 200
    assert client.get("/nodeinfo/2.1").status_code == 200
    proxy.close()  # the database restarts: connections cut, new ones refused
    page = client.get("/courses", headers={"accept": "text/html"})
    assert page.status_code == 503, page.text[:500]
    assert page.headers["retry-after"] == "10" and "database cannot be reached" in page.text
    machine = client.get("/nodeinfo/2.1")
    assert machine.status_code == 503 and machine.headers["retry-after"] == "10"
    assert "database cannot be reached" in machine.json()["error"]
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["database"]["ok"] is False, health.text
    proxy.open()  # back: the pool reconnects by itself
    assert client.get("/courses").status_code == 200


def test_only_errors_that_pass_are_unavailable() -> None:
    def wrapped(error: Exception) -> sa_exc.DBAPIError:
        return sa_exc.OperationalError("SELECT 1", {}, error)

    assert unavailable(wrapped(sqlite3.OperationalError("database is locked")))
    assert unavailable(sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"))
    # A statement that is wrong is a bug: a 500 with a traceback in the log, not a "come back later".
    assert not unavailable(wrapped(sqlite3.OperationalError("no such table: courses")))
    assert not unavailable(sa_exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")))
    assert not unavailable(ValueError("not a database error"))
