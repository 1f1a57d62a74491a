"""The whole app on a real port (uvicorn in a thread), on the test's backend (SQLite or PostgreSQL).

Like tests/support/browser.py's `live_server`, but over the parametrised `settings` fixture, so that
races are tried against both databases.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import uvicorn

from server.floor.config import use_settings
from server.floor.settings import Settings

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The app of `settings` served on 127.0.0.1; its base URL."""
    from server.roof.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = replace(settings, url=url)
    use_settings(settings)
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="security-live", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def form_token(client: httpx.Client, path: str = "/login") -> str:
    """The CSRF token of the form at `path` (the client keeps the session cookie)."""
    found = CSRF.search(client.get(path).text)
    assert found, f"no form on {path}"
    return found.group(1)
