"""The browser harness: Debian's chromium driven by Playwright, against the app on a real port.

    from tests.support.browser import browser_page, chromium, live_server  # noqa: F401  (in a conftest)

    @pytest.mark.browser
    def test_something(live_server, browser_page):
        browser_page.goto(live_server.url + "/login")

`live_server` serves the whole app (server.roof.app.create_app) with uvicorn in a thread of the test
process on 127.0.0.1, on a fresh SQLite instance whose MECHMOOC_URL is that address, so links in
mails point at it. The test can use the database directly (`session_scope()`), e.g. to read the
outbox. `browser_page` is a fresh browser context (own cookies) and page per test.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from server.floor.config import use_settings
from server.floor.settings import Settings
from tests.support.backends import IN_CI

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 15.0
ACTION_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class LiveServer:
    """An app served on a real port: its base URL and the settings it runs with."""

    url: str
    settings: Settings


def _serve(server: uvicorn.Server, sock: socket.socket) -> threading.Thread:
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start on 127.0.0.1")
        time.sleep(0.02)
    return thread


@pytest.fixture
def live_server(sqlite_settings: Settings) -> Iterator[LiveServer]:
    """The whole app on http://127.0.0.1:PORT (uvicorn in a thread), stopped after the test."""
    from server.roof.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = replace(sqlite_settings, url=url)
    use_settings(settings)
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = _serve(server, sock)
    try:
        yield LiveServer(url=url, settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's chromium, launched once per test module (missing: a failure in CI, a skip elsewhere).

    Module scope keeps Playwright's own event loop out of the way of the other tests' asyncio.
    """
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Browser) -> Iterator[Page]:
    """A page in a fresh browser context (its own cookies), closed after the test."""
    context = chromium.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
