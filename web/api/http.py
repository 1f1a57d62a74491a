"""How an API endpoint runs: parameters from the query and the body (form, multipart or JSON),
the bearer token and its scopes, the handler in a worker thread, and errors as Mastodon answers
them (`{"error": "..."}` with its status codes: 401, 403, 404, 422, 429, 503).

    @endpoint("read:statuses")
    def show(call: Call) -> object: ...

A handler gets a `Call` and returns a JSON-able value, a `Page` (a list with its Link header)
or a Response.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.db import session_scope, unavailable, write_scope
from server.floor.errors import Invalid, NotFound, PermissionDenied, RateLimited
from web.api import scopes as scope_rules
from web.api.models import Token, digest
from web.limits import limits_for

MAX_JSON = 1_000_000
LAST_USED_EVERY = timedelta(hours=1)
MAX_LIST = 100  # items of one array parameter (media_ids[], id[], exclude_types[])


class ApiError(Exception):
    """An answer other than 200: `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


UNAUTHORIZED = "The access token is invalid"


@dataclass
class Params:
    """Request parameters from the query string and the body; `name[]` and `name` are one list."""

    values: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, name: str, value: Any) -> None:
        """Append a value (`name[]` is stored under `name`)."""
        key = name[:-2] if name.endswith("[]") else name
        self.values.setdefault(key, []).append(value)

    def get(self, name: str, default: Any = None) -> Any:
        """The first value of `name`, or `default`."""
        found = self.values.get(name)
        return found[0] if found else default

    def text(self, name: str, default: str = "", limit: int = 100_000) -> str:
        """A text parameter (422 when it is not text or longer than `limit`)."""
        value = self.get(name, default)
        if value is None:
            return default
        if isinstance(value, bool | int | float):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if not isinstance(value, str):
            raise ApiError(422, f"Validation failed: {name} must be text")
        if len(value) > limit:
            raise ApiError(422, f"Validation failed: {name} is longer than {limit} characters")
        return value

    def list(self, name: str) -> list[Any]:
        """Every value of `name` (a JSON array counts as its items), at most MAX_LIST."""
        items: list[Any] = []
        for value in self.values.get(name, []):
            items.extend(value if isinstance(value, list) else [value])
        if len(items) > MAX_LIST:
            raise ApiError(422, f"Validation failed: at most {MAX_LIST} values of {name}")
        return items

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean as Mastodon reads one (true/1/on/yes, false/0/off/no/empty)."""
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in {"1", "true", "on", "yes", "t"}

    def number(self, name: str, default: int | None = None, low: int = 0, high: int = 2**63 - 1) -> int | None:
        """A whole number within [low, high] (422 otherwise)."""
        value = self.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ApiError(422, f"Validation failed: {name} must be a whole number") from None
        if not low <= number <= high:
            raise ApiError(422, f"Validation failed: {name} must be between {low} and {high}")
        return number

    def file(self, name: str) -> UploadFile | None:
        """An uploaded file, or None."""
        value = self.get(name)
        return value if isinstance(value, UploadFile) else None


@dataclass
class Call:
    """One API request as its handler sees it."""

    request: Request
    params: Params
    token: Token | None = None
    account: Account | None = None

    @property
    def scopes(self) -> list[str]:
        """The token's scopes."""
        return scope_rules.parse(self.token.scope, default="") if self.token else []

    def need_account(self) -> Account:
        """The token's person (422 for an app-only token, as Mastodon answers)."""
        if self.account is None:
            raise ApiError(422, "This method requires an authenticated user")
        return self.account

    def id(self, name: str = "id") -> int:
        """A path id as a number (404 when it is not one, as Mastodon's finders answer)."""
        raw = self.request.path_params.get(name, "")
        if not isinstance(raw, str) or not raw.isdigit() or len(raw) > 19:
            raise ApiError(404, "Record not found")
        return int(raw)


@dataclass
class Page:
    """A list answer with its Link header (next: older, prev: newer)."""

    items: Any  # the list (or, for grouped notifications, the document)
    link: str = ""


def bearer(connection: HTTPConnection) -> str | None:
    """The access token of a request: `Authorization: Bearer`, or `access_token` (streaming)."""
    header = connection.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    token = connection.query_params.get("access_token")
    if token:
        return token
    protocol = connection.headers.get("sec-websocket-protocol", "")
    return protocol.strip() or None if connection.scope["type"] == "websocket" else None


def find_token(secret: str | None) -> tuple[Token | None, Account | None]:
    """The live token of `secret` and its account (None, None when unknown, revoked or expired)."""
    if not secret or len(secret) > 500:
        return None, None
    with session_scope() as db:
        token = db.scalar(select(Token).where(Token.access_hash == digest(secret)))
        if token is None or token.revoked_at is not None or (token.expires_at and token.expires_at <= now()):
            return None, None
        stale = token.last_used_at is None or token.last_used_at < now() - LAST_USED_EVERY
        account = db.get(Account, token.account_id) if token.account_id is not None else None
        if token.account_id is not None and (account is None or account.disabled):
            return None, None
    if stale:  # for the person's list of apps: at most hourly, in its own short write
        with write_scope() as db:
            db.execute(update(Token).where(Token.id == token.id).values(last_used_at=now()))
    return token, account


def authenticate(call: Call, scope: str | None, user: bool, public: bool) -> None:
    """Fill in the call's token and account; 401/403 as Mastodon when they do not allow the call."""
    secret = bearer(call.request)
    call.token, call.account = find_token(secret)
    if secret and call.token is None:
        raise ApiError(401, UNAUTHORIZED)
    if call.token is None:
        if public:
            return
        raise ApiError(401, UNAUTHORIZED)
    if scope and not scope_rules.covers(call.scopes, scope):
        raise ApiError(403, "This action is outside the authorized scopes")
    if user and call.account is None:
        raise ApiError(422, "This method requires an authenticated user")


async def read_params(request: Request) -> tuple[Params, FormData | None]:
    """The query's and the body's parameters (form, multipart with files, or a JSON object)."""
    params = Params()
    for name, value in request.query_params.multi_items():
        params.add(name, value)
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return params, None
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind == "application/json":
        body = await request.body()
        if len(body) > MAX_JSON:
            raise ApiError(413, "The request is too large")
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            raise ApiError(400, "The request body is not valid JSON") from None
        if not isinstance(document, dict):
            raise ApiError(422, "The request body must be a JSON object")
        for name, value in document.items():
            params.add(str(name), value)
        return params, None
    if kind in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        limits = limits_for(request.url.path)
        form = await request.form(max_files=limits.files, max_fields=limits.fields, max_part_size=limits.part)
        for field_name, field_value in form.multi_items():
            params.add(field_name, field_value)
        return params, form
    return params, None


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Mastodon's error body."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def answer(result: Any) -> Response:
    """The handler's result as a response."""
    if isinstance(result, Response):
        return result
    if isinstance(result, Page):
        headers = {"Link": result.link} if result.link else None
        return JSONResponse(result.items, headers=headers)
    return JSONResponse(result)


def run(call: Call, handler: Callable[[Call], Any], scope: str | None, user: bool, public: bool) -> Response:
    """Authenticate, run the handler, translate domain errors to Mastodon's answers (in a thread)."""
    try:
        authenticate(call, scope, user, public)
        return answer(handler(call))
    except ApiError as problem:
        return error(problem.status, problem.message, problem.headers)
    except NotFound:
        return error(404, "Record not found")
    except PermissionDenied as problem:
        return error(403, str(problem) or "This action is not allowed")
    except RateLimited as problem:
        return error(429, "Too many requests", {"Retry-After": str(problem.retry_after)})
    except Invalid as problem:
        return error(422, f"Validation failed: {problem}")
    except DBAPIError as problem:
        if unavailable(problem):
            return error(503, "The database cannot be reached right now", {"Retry-After": "10"})
        raise


def endpoint(
    scope: str | None = None, *, user: bool = True, public: bool = False
) -> Callable[[Callable[[Call], Any]], Callable[[Request], Any]]:
    """Make a handler of `Call` an endpoint needing `scope`; `user`: a person's token (not an app's);
    `public`: works without a token too."""

    def decorate(handler: Callable[[Call], Any]) -> Callable[[Request], Any]:
        @wraps(handler)
        async def handle(request: Request) -> Response:
            form: FormData | None = None
            try:
                params, form = await read_params(request)
            except ApiError as problem:
                return error(problem.status, problem.message)
            try:
                call = Call(request=request, params=params)
                return await run_in_threadpool(run, call, handler, scope, user, public)
            finally:
                if form is not None:
                    await form.close()

        return handle

    return decorate
