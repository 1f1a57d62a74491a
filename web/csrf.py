"""CSRF protection: every state-changing request from a browser carries the session's token.

The middleware parses a posted form once, as it streams in (files spooled to disk, with the
explicit limits of `web.limits`), checks its `csrf_token` field (or an `X-CSRF-Token` header, for
fetch() calls from our own pages) against the token kept in the signed session, and hands the
parsed form to the page as `posted_form(request)`. Other bodies (JSON from our own scripts) need
the header and are passed on unread. Machine endpoints, which are called by mail providers, mail
clients (RFC 8058) and other servers and carry no browser session, are exempt: they authenticate
themselves (signatures, tokens in the URL) instead.
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

from server.floor.urls import is_inbox_path
from web.limits import BodyTooLarge, limits_for

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SESSION_KEY = "csrf"
FORM_STATE = "posted_form"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
OAUTH_TOKEN_PATHS = ("/oauth/token", "/oauth/revoke")
ACTIVITYPUB_TYPES = ("application/activity+json", "application/ld+json")
EXPIRED = "The form was missing its security token, or it had expired. Go back, reload the page and try again."


def media_type(content_type: str) -> str:
    """`application/ld+json` of `application/ld+json; profile="..."`."""
    return content_type.split(";", 1)[0].strip().lower()


def is_exempt(method: str, path: str, content_type: str) -> bool:
    """True for machine endpoints: /mail/..., /api/... (JSON with CORS), the OAuth token endpoints (apps
    authenticate with their client secret and bearer tokens, never a cookie), and ActivityPub deliveries.

    A delivery is a POST of an ActivityPub document to exactly an inbox route; a form posted to an
    inbox address (or to any other path ending in /inbox) is checked like every other form.
    """
    if path.startswith(("/mail/", "/api/")) or path in OAUTH_TOKEN_PATHS:
        return True
    return method == "POST" and is_inbox_path(path) and media_type(content_type) in ACTIVITYPUB_TYPES


# While a public page is rendered for web.page_cache its forms get this instead of a token: the kept
# page is the same for every visitor, and each answer puts the visitor's own token in its place. It is
# made per process and is not a token, so text on a page cannot hold it (and would be escaped).
PUBLIC_PAGE = "public_page"
PLACEHOLDER = "csrf-" + secrets.token_hex(19)


def csrf_token(connection: HTTPConnection) -> str:
    """The session's CSRF token, created on first use (the placeholder while a public page renders)."""
    if connection.scope.get("state", {}).get(PUBLIC_PAGE):
        return PLACEHOLDER
    return session_token(connection)


def session_token(connection: HTTPConnection) -> str:
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
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        content_type = request.headers.get("content-type", "")
        if is_exempt(scope["method"], scope["path"], content_type):
            await self.app(scope, receive, send)
            return
        expected = request.session.get(SESSION_KEY)
        if not isinstance(expected, str) or not expected:
            # No session token, so no token can match: refuse before reading the body at all.
            await self.refuse(request, 403, EXPIRED)(scope, receive, send)
            return
        given = request.headers.get(HEADER)
        form: FormData | None = None
        if media_type(content_type) in FORM_TYPES:
            limits = limits_for(scope["path"])
            try:
                form = await request.form(max_files=limits.files, max_fields=limits.fields, max_part_size=limits.part)
            except BodyTooLarge:
                raise  # answered 413 by BodyLimitMiddleware
            except HTTPException as error:  # a malformed multipart body, too many fields or files
                await self.refuse(request, 400, str(error.detail))(scope, receive, send)
                return
            given = given or _text(form.get(FIELD))
        try:
            if not given or not secrets.compare_digest(expected, given):
                await self.refuse(request, 403, EXPIRED)(scope, receive, send)
                return
            if form is None:
                # Not a form (JSON from our own scripts, with the header): the body is passed on unread.
                await self.app(scope, receive, send)
                return
            scope.setdefault("state", {})[FORM_STATE] = form
            await self.app(scope, _consumed(receive), send)
        finally:
            if form is not None:
                await form.close()  # uploaded files spooled to disk


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _consumed(receive: Receive) -> Receive:
    """A `receive` for a body already read: an empty last chunk, then the real disconnect."""
    sent = False

    async def drained() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return drained
