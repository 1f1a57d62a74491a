"""The streaming API: GET /api/v1/streaming as a WebSocket (`?stream=` at connect, then
`{"type": "subscribe"|"unsubscribe", "stream": ..., "tag": ...}` messages) and the Server-Sent
Events paths (/api/v1/streaming/user, /user/notification, /public, /public/local, /public/remote,
/hashtag?tag=, /hashtag/local?tag=). Events: `update`, `notification`, `delete`, `status.update`,
fed by web.api.reactions through the hub (web.api.hub)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from community import people
from server.floor.accounts import Account
from server.floor.db import session_scope
from web.api import scopes as scope_rules
from web.api.http import bearer, find_token
from web.api.hub import HUB, Listener
from web.api.models import Token

HEARTBEAT_SECONDS = 15.0
SSE_PATHS = {
    "/api/v1/streaming/user": "user",
    "/api/v1/streaming/user/notification": "user:notification",
    "/api/v1/streaming/public": "public",
    "/api/v1/streaming/public/local": "public:local",
    "/api/v1/streaming/public/remote": "public:remote",
    "/api/v1/streaming/hashtag": "hashtag",
    "/api/v1/streaming/hashtag/local": "hashtag:local",
}
PUBLIC = {
    "public": "public",
    "public:media": "public",
    "public:local": "public:local",
    "public:local:media": "public:local",
    "public:remote": "public:remote",
    "public:remote:media": "public:remote",
}


class StreamError(Exception):
    """A subscription this server cannot give (unknown stream, missing tag, no token)."""


def keys_for(stream: str, tag: str | None, profile_id: int | None, token: Token | None) -> list[tuple[str, list[str]]]:
    """The hub keys (and the label clients see) of one subscription."""
    if stream in ("user", "user:notification"):
        if profile_id is None or token is None:
            raise StreamError("Missing access token")
        needed = "read:notifications" if stream == "user:notification" else "read:statuses"
        if not scope_rules.covers(token.scope, needed):
            raise StreamError("Access token does not have the required scopes")
        notification = (f"user:notification:{profile_id}", [stream])
        return [notification] if stream == "user:notification" else [(f"user:{profile_id}", [stream]), notification]
    if stream in PUBLIC:
        return [(PUBLIC[stream], [stream])]
    if stream in ("hashtag", "hashtag:local"):
        name = (tag or "").strip().lstrip("#").lower()
        if not name or len(name) > 200:
            raise StreamError("No tag for hashtag stream")
        return [(f"{stream}:{name}", [stream, tag or name])]
    raise StreamError("Unknown stream type")


def _identify(secret: str | None) -> tuple[Token | None, int | None, bool]:
    """The token, its person's profile id, and whether a token was given but is not valid."""
    token, account = find_token(secret)
    if secret and token is None:
        return None, None, True
    return token, _profile_id(account), False


def _profile_id(account: Account | None) -> int | None:
    if account is None:
        return None
    with session_scope() as db:
        return people.local_profile(db, account).id


def _subscribe(listener: Listener, keys: list[tuple[str, list[str]]]) -> None:
    for key, label in keys:
        HUB.subscribe(listener, key, label)


async def websocket(socket: WebSocket) -> None:
    """GET /api/v1/streaming (WebSocket)."""
    token, profile_id, bad = await run_in_threadpool(_identify, bearer(socket))
    if bad:
        await socket.close(code=4001)
        return
    protocol = socket.headers.get("sec-websocket-protocol")
    await socket.accept(subprotocol=protocol.split(",")[0].strip() if protocol else None)
    HUB.attach()
    listener = Listener()
    first = socket.query_params.get("stream")
    try:
        if first:
            _subscribe(listener, keys_for(first, socket.query_params.get("tag"), profile_id, token))
    except StreamError as problem:
        await socket.send_text(json.dumps({"error": str(problem)}))
    sender = asyncio.create_task(_send_all(socket, listener))
    try:
        while True:
            text = await socket.receive_text()
            await _command(socket, listener, text[:10_000], profile_id, token)
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        HUB.unsubscribe(listener)


async def _send_all(socket: WebSocket, listener: Listener) -> None:
    while True:
        item = await listener.queue.get()
        await socket.send_text(json.dumps(item))


async def _command(
    socket: WebSocket, listener: Listener, text: str, profile_id: int | None, token: Token | None
) -> None:
    try:
        message: Any = json.loads(text)
    except ValueError:
        message = None
    if not isinstance(message, dict) or message.get("type") not in ("subscribe", "unsubscribe"):
        await socket.send_text(json.dumps({"error": "Unknown message"}))
        return
    stream, tag = message.get("stream"), message.get("tag")
    if not isinstance(stream, str) or (tag is not None and not isinstance(tag, str)):
        await socket.send_text(json.dumps({"error": "Unknown stream type"}))
        return
    try:
        keys = keys_for(stream, tag, profile_id, token)
    except StreamError as problem:
        await socket.send_text(json.dumps({"error": str(problem)}))
        return
    if message["type"] == "subscribe":
        _subscribe(listener, keys)
    else:
        for key, _label in keys:
            HUB.unsubscribe(listener, key)


async def server_sent_events(request: Request) -> Response:
    """The SSE paths: one stream per request, kept open with a heartbeat comment."""
    token, profile_id, bad = await run_in_threadpool(_identify, bearer(request))
    if bad:
        return JSONResponse({"error": "The access token is invalid"}, status_code=401)
    stream = SSE_PATHS[request.url.path.rstrip("/")]
    if stream.startswith("public") and request.query_params.get("only_media") in ("1", "true"):
        stream += ":media"
    try:
        keys = keys_for(stream, request.query_params.get("tag"), profile_id, token)
    except StreamError as problem:
        status = 401 if "token" in str(problem).lower() else 400
        return JSONResponse({"error": str(problem)}, status_code=status)
    HUB.attach()
    listener = Listener()
    _subscribe(listener, keys)
    return StreamingResponse(
        _events(listener),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(listener: Listener) -> AsyncIterator[str]:
    try:
        yield ":)\n\n"
        while True:
            try:
                item = await asyncio.wait_for(listener.queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield ":thump\n\n"
                continue
            yield f"event: {item['event']}\ndata: {item['payload']}\n\n"
    finally:
        HUB.unsubscribe(listener)


def routes() -> list[BaseRoute]:
    """The streaming endpoints (this process serves them: its hub delivers, it leaves no rows)."""
    HUB.serve()
    return [
        WebSocketRoute("/api/v1/streaming", websocket),
        Route("/api/v1/streaming", websocket_over_http, methods=["GET"]),
        *(Route(path, server_sent_events, methods=["GET"]) for path in SSE_PATHS),
    ]


def websocket_over_http(request: Request) -> Response:
    """A plain GET of /api/v1/streaming (no upgrade): say what it is for."""
    return JSONResponse(
        {"error": "This address takes WebSocket connections (or use the /api/v1/streaming/... paths)"}, status_code=400
    )
