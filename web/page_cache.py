"""Rendered public pages kept for anonymous visitors, until the instance's data changes.

A public page (the home page, the catalogue, a course, a run, a person's profile, about) looks the
same to every visitor who is not logged in: its handler says so with `public_page(request)`. For
such a visitor (a session holding nothing but a CSRF token), the first GET renders as usual and the
200 answer is kept, keyed by host, path, query and Accept; the next ones are answered from memory
without touching the database, as long as

- `server.floor.changes.generation()` is what it was before that page was rendered: every process
  of the instance moves it after any write to a table a page could show (one stat() a request), and
- the page is younger than MECHMOOC_PAGE_CACHE_SECONDS (default 30; 0 turns the cache off), the
  bound for writes this process cannot see (another machine's process with its own data dir).

Forms on these pages carry the visitor's own CSRF token: the kept page holds a placeholder that no
page text can contain (it is made per process, and text is escaped), replaced by the token of the
session at each answer (created, and the cookie set, as rendering would have done). Anything else
that differs between visitors — an account, flashed notices, a learner's link — makes the request
bypass the cache. The cache holds at most MAX_BYTES of pages, least recently used first out.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.floor.changes import generation
from web.csrf import PLACEHOLDER, PUBLIC_PAGE, session_token
from web.csrf import SESSION_KEY as CSRF_KEY

MAX_BYTES = 8 * 1024 * 1024
CANDIDATE = "page_cache_candidate"  # scope state: an anonymous GET this cache may keep the answer of


@dataclass(frozen=True)
class Page:
    """A kept answer: its headers (no cookie: the session adds its own), body, and what it was checked against."""

    headers: list[tuple[bytes, bytes]]
    body: bytes
    generation: int
    made: float
    has_form: bool


def public_page(connection: HTTPConnection) -> None:
    """The page being rendered shows every anonymous visitor the same thing (its forms' token aside).

    Only an anonymous GET the cache may keep is marked (a logged-in visitor's forms keep their token)."""
    state = connection.scope.setdefault("state", {})
    if state.get(CANDIDATE):
        state[PUBLIC_PAGE] = True


def _anonymous(scope: Scope) -> bool:
    session = scope.get("session")
    return isinstance(session, dict) and all(key == CSRF_KEY for key in session)


def _key(scope: Scope) -> tuple[bytes, ...]:
    host = accept = b""
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
        elif name == b"accept":
            accept = value
    return (host, scope["path"].encode(), scope.get("query_string", b""), accept, scope.get("scheme", "").encode())


class PageCacheMiddleware:
    """Answer anonymous GETs of public pages from memory while the data has not changed (inside the session)."""

    def __init__(self, app: ASGIApp, seconds: float, max_bytes: int = MAX_BYTES) -> None:
        self.app = app
        self.seconds = seconds
        self.max_bytes = max_bytes
        self.pages: OrderedDict[tuple[bytes, ...], Page] = OrderedDict()
        self.size = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.seconds <= 0 or scope["type"] != "http" or scope["method"] != "GET" or not _anonymous(scope):
            await self.app(scope, receive, send)
            return
        key = _key(scope)
        current = generation()
        page = self.pages.get(key)
        if page is not None and page.generation == current and time.monotonic() - page.made < self.seconds:
            self.pages.move_to_end(key)
            await self._answer(scope, send, page.headers, page.body, page.has_form)
            return
        await self._render(scope, receive, send, key, current)

    async def _render(self, scope: Scope, receive: Receive, send: Send, key: tuple[bytes, ...], current: int) -> None:
        """Render the page; keep it when its handler called it public and it answered 200."""
        made = time.monotonic()
        scope.setdefault("state", {})[CANDIDATE] = True
        start: Message | None = None
        chunks: list[bytes] = []

        async def keeping(message: Message) -> None:
            nonlocal start
            if start is None and message["type"] == "http.response.start":
                if message["status"] == 200 and scope.get("state", {}).get(PUBLIC_PAGE):
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            headers = [
                (name, value) for name, value in start["headers"] if name not in (b"content-length", b"set-cookie")
            ]
            has_form = PLACEHOLDER.encode() in body
            self._keep(key, Page(headers, body, current, made, has_form))
            cookies = [(name, value) for name, value in start["headers"] if name == b"set-cookie"]
            await self._answer(scope, send, headers + cookies, body, has_form, start["status"])

        await self.app(scope, receive, keeping)

    async def _answer(
        self,
        scope: Scope,
        send: Send,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        has_form: bool,
        status: int = 200,
    ) -> None:
        if has_form:
            body = body.replace(PLACEHOLDER.encode(), session_token(HTTPConnection(scope)).encode())
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _keep(self, key: tuple[bytes, ...], page: Page) -> None:
        if len(page.body) > self.max_bytes // 8:
            return
        old = self.pages.pop(key, None)
        if old is not None:
            self.size -= len(old.body)
        self.pages[key] = page
        self.size += len(page.body)
        while self.size > self.max_bytes:
            _, dropped = self.pages.popitem(last=False)
            self.size -= len(dropped.body)
