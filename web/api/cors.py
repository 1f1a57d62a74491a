"""CORS and rate-limit headers of the client API, as Mastodon sends them (config/initializers/cors.rb
and rack_attack.rb): any origin may call /api/v1, /api/v2 and the OAuth token endpoints with a
bearer token (no cookies), and each answer says how many calls are left in the window.

The counter is per web process (300 calls per token, or per client address without one, in five
minutes): a guard against runaway clients, not an accounting system.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIXES = ("/api/v1/", "/api/v2/", "/oauth/token", "/oauth/revoke", "/.well-known/oauth-authorization-server")
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, PUT, DELETE, GET, PATCH, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, Accept",
    "Access-Control-Expose-Headers": "Link, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-Request-Id, Idempotency-Key",
    "Access-Control-Max-Age": "7200",
}
STREAMING = "/api/v1/streaming"
LIMIT = 300
WINDOW = 300.0
MAX_KEYS = 100_000


class Window:
    """Calls per key in the current fixed window (per process, thread-safe)."""

    def __init__(self, limit: int = LIMIT, seconds: float = WINDOW) -> None:
        self.limit = limit
        self.seconds = seconds
        self.lock = threading.Lock()
        self.start = self._start()
        self.counts: dict[str, int] = {}

    def _start(self) -> float:
        return time.time() // self.seconds * self.seconds

    def hit(self, key: str) -> tuple[int, float]:
        """Count a call of `key`: (calls left, when the window resets as a Unix time); left < 0: over."""
        with self.lock:
            start = self._start()
            if start != self.start or len(self.counts) > MAX_KEYS:
                self.start, self.counts = start, {}
            used = self.counts.get(key, 0) + 1
            self.counts[key] = used
            return self.limit - used, self.start + self.seconds


def applies(path: str) -> bool:
    """True for the client API's paths."""
    return path.startswith(PREFIXES)


def caller_key(scope: Scope) -> str:
    """The token's hash, else the client address."""
    header = Headers(scope=scope).get("authorization", "")
    if header[:7].lower() == "bearer ":
        return "t:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()
    client = scope.get("client") or ("", 0)
    return "a:" + str(client[0])


class ApiHeadersMiddleware:
    """Preflights answered, CORS and X-RateLimit-* headers added, 429 past the limit."""

    def __init__(self, app: ASGIApp, window: Window | None = None) -> None:
        self.app = app
        self.window = window or Window()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await Response(status_code=200, headers=CORS)(scope, receive, send)
            return
        if scope["path"].startswith(
            STREAMING
        ):  # long-lived connections, not calls (Mastodon's streaming server counts none)
            await self.app(scope, receive, _with_headers(send, CORS))
            return
        left, reset = self.window.hit(caller_key(scope))
        limits = {
            "X-RateLimit-Limit": str(self.window.limit),
            "X-RateLimit-Remaining": str(max(left, 0)),
            "X-RateLimit-Reset": datetime.fromtimestamp(reset, tz=UTC).isoformat(timespec="milliseconds"),
        }
        if left < 0:
            wait = str(max(1, int(reset - time.time())))
            body = {"error": "Too many requests"}
            await JSONResponse(body, 429, headers={**CORS, **limits, "Retry-After": wait})(scope, receive, send)
            return

        await self.app(scope, receive, _with_headers(send, {**CORS, **limits}))


def _with_headers(send: Send, extra: dict[str, str]) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in extra.items():
                headers[name] = value
        await send(message)

    return send_with_headers
