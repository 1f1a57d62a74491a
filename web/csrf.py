"""CSRF protection: every state-changing request from a browser carries the session's token.

The middleware reads a posted form once, checks its `csrf_token` field (or an `X-CSRF-Token`
header, for fetch() calls from our own pages) against the token kept in the signed session, and
hands the parsed form to the page as `posted_form(request)`. Machine endpoints, which are called
by mail providers, mail clients (RFC 8058) and other servers and carry no browser session, are
exempt: they authenticate themselves (signatures, tokens in the URL) instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SESSION_KEY = "csrf"
FORM_STATE = "posted_form"
# Forms are read into memory to check their token; course archives and CSV imports fit well under this.
MAX_BODY = 32 * 2**20
EXPIRED = "The form was missing its security token, or it had expired. Go back, reload the page and try again."


def is_exempt(path: str) -> bool:
    """True for machine endpoints: /mail/..., any ActivityPub inbox, /api/... (JSON with CORS)."""
    return path.startswith("/mail/") or path.startswith("/api/") or path == "/inbox" or path.endswith("/inbox")


def csrf_token(connection: HTTPConnection) -> str:
    """The session's CSRF token, created on first use."""
    token = connection.session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        connection.session[SESSION_KEY] = token
    return token


def csrf_input(connection: HTTPConnection) -> Markup:
    """The hidden form field every POST form must contain."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, csrf_token(connection))


def posted_form(request: Request) -> FormData:
    """The form the CSRF middleware has already read (usable from plain `def` handlers)."""
    form = request.scope.get("state", {}).get(FORM_STATE)
    return form if isinstance(form, FormData) else FormData()


class CSRFMiddleware:
    """Refuse (403) unsafe requests whose token is missing or wrong; exempt machine endpoints."""

    def __init__(self, app: ASGIApp, refuse: Callable[[Request, int, str], Response]) -> None:
        self.app = app
        # The error page of the web shell, handed in so that this module stays below it.
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or is_exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        expected = request.session.get(SESSION_KEY)
        if not isinstance(expected, str) or not expected:
            # No session token, so no token can match: refuse before reading the body at all.
            await self.refuse(request, 403, EXPIRED)(scope, receive, send)
            return
        body = await _read_body(receive, MAX_BODY)
        if body is None:
            await self.refuse(request, 413, f"The form is larger than {MAX_BODY // 2**20} MB.")(scope, receive, send)
            return
        request = Request(scope, _replayer(body, receive))
        given = request.headers.get(HEADER)
        form: FormData | None = None
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            try:
                form = await request.form()
            except HTTPException as error:  # a malformed multipart body
                await self.refuse(request, 400, str(error.detail))(scope, receive, send)
                return
            given = given or _text(form.get(FIELD))
        if not given or not secrets.compare_digest(expected, given):
            await self.refuse(request, 403, EXPIRED)(scope, receive, send)
            return
        if form is not None:
            scope.setdefault("state", {})[FORM_STATE] = form
        await self.app(scope, _replayer(body, receive), send)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it grows past `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replayer(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body on, then waits for the real disconnect."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
