"""Request body limits per path, enforced while the body streams in.

Every request passes `BodyLimitMiddleware`: a declared Content-Length over the path's limit is
answered 413 before a byte of the body is read; a body without one (chunked) is counted as it
arrives and cut off with 413 as soon as it passes the limit. No body is ever held whole in memory
beyond its limit. Forms are then parsed (by the CSRF middleware) with the same table's explicit
limits on files, fields and the size of one field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.floor.urls import is_inbox_path

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class BodyLimits:
    """The most a request to one path may send: body bytes, and for forms files, fields, field bytes."""

    body: int = 1 * MB
    files: int = 0
    fields: int = 1000
    part: int = 1 * MB


DEFAULT = BodyLimits()
# First match wins; paths are matched whole. Upload limits sit a little above what the page itself
# accepts (web.pages.organize.MAX_ZIP_BYTES, web.pages.organize_runs.MAX_CSV_BYTES), so that the
# page can answer with its own message naming the file.
PATHS: tuple[tuple[re.Pattern[str], BodyLimits], ...] = (
    (re.compile(r"/organize/import"), BodyLimits(body=11 * MB, files=1)),
    (re.compile(r"/organize/runs/[^/]+/import"), BodyLimits(body=21 * MB, files=1, part=21 * MB)),
    (re.compile(r"/organize/runs/[^/]+/import/confirm"), BodyLimits(body=21 * MB, part=21 * MB)),
    # The signup API checks 64,000 bytes itself; mail providers hand over messages of up to 5 MB.
    (re.compile(r"/api/runs/[^/]+/signup"), BodyLimits(body=64 * KB)),
    (
        re.compile(r"/mail/webhooks/(?:inbound|complaint|ses|mailgun|postmark|sendgrid)"),
        BodyLimits(body=5 * MB + 64 * KB),
    ),
    # The compose form: up to 4 pictures of 10 MB (web.social.pictures.MAX_BYTES) and the text.
    (re.compile(r"/compose"), BodyLimits(body=41 * MB, files=4, part=11 * MB)),
    # Profile settings: an avatar and a header of up to 8 MB each (community.media.MAX_BYTES) and the form.
    (re.compile(r"/settings/profile"), BodyLimits(body=17 * MB, files=2)),
    # Mastodon clients upload pictures of up to 16 MB (with a thumbnail).
    (re.compile(r"/api/v[12]/media"), BodyLimits(body=16 * MB, files=2)),
    # An avatar and a header (community.media takes up to 8 MB each) with the profile's fields.
    (re.compile(r"/api/v1/accounts/update_credentials"), BodyLimits(body=17 * MB, files=2, part=8 * MB + 64 * KB)),
)
# ActivityPub inboxes: the federation package refuses activities over 1,000,000 bytes itself.
INBOX = BodyLimits(body=1 * MB)


def limits_for(path: str) -> BodyLimits:
    """The limits of requests to `path`."""
    if is_inbox_path(path):
        return INBOX
    return next((limits for pattern, limits in PATHS if pattern.fullmatch(path)), DEFAULT)


def size_text(size: int) -> str:
    """A size for people: `1 MB`, `64 KB`."""
    return f"{size / MB:g} MB" if size >= MB else f"{size / KB:g} KB"


class BodyTooLarge(HTTPException):
    """A body passed its path's limit while streaming in (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    """What a person (or script) reads when the body was too large."""
    return f"The request is larger than {size_text(limit)}, the most this address accepts."


class BodyLimitMiddleware:
    """413 for bodies over the path's limit: by Content-Length at once, else while counting the stream."""

    def __init__(self, app: ASGIApp, refuse: Callable[[Request, int, str], Response]) -> None:
        self.app = app
        # The error page of the web shell, handed in so that this module stays below it.
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limits_for(scope["path"]).body
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self.refuse(Request(scope, receive), 413, too_large_message(limit))(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            # Raised where nothing answered it (a middleware reading the body); a handler's own
            # read is answered by the exception handlers. Too late once the answer has begun.
            if not started:
                await self.refuse(Request(scope, receive), 413, too_large_message(limit))(scope, receive, send)
