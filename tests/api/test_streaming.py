"""The streaming API over a real WebSocket (the `websockets` client): public, hashtag and user
streams, subscribe/unsubscribe messages, `update`, `status.update`, `delete` and `notification`
events, and the refusals (a bad token, a user stream without one)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from tests.api.clients import client_for, register_app
from tests.api.conftest import Person
from web.api.hub import Hub


def ws_url(base: str, query: str) -> str:
    return base.replace("http://", "ws://") + "/api/v1/streaming?" + query


async def next_event(socket: Any, event: str, timeout: float = 10) -> dict[str, Any]:
    """The next message of kind `event` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await socket.recv())
            if message.get("event") == event:
                return message


def test_public_hashtag_and_user_streams(server_url: str, alice: Person, bob: Person) -> None:
    app = register_app(server_url)
    a, b = client_for(server_url, alice, app), client_for(server_url, bob, app)

    async def scenario() -> None:
        async with (
            websockets.connect(ws_url(server_url, f"stream=user&access_token={a.access_token}")) as user,
            websockets.connect(ws_url(server_url, "stream=public")) as public,
        ):
            await public.send(json.dumps({"type": "subscribe", "stream": "hashtag", "tag": "Python"}))
            await asyncio.sleep(0.3)  # the subscription is registered
            posted = await asyncio.to_thread(b.status_post, "@alice #python is fun")
            update = await next_event(public, "update")
            assert json.loads(update["payload"])["id"] == str(posted.id)
            tagged = await next_event(public, "update")
            assert tagged["stream"] == ["hashtag", "Python"]
            mention = await next_event(user, "notification")
            body = json.loads(mention["payload"])
            assert (
                mention["stream"] == ["user"] and body["type"] == "mention" and body["status"]["id"] == str(posted.id)
            )
            await asyncio.to_thread(b.status_update, posted.id, "@alice #python is great")
            edited = await next_event(public, "status.update")
            assert "great" in json.loads(edited["payload"])["content"]
            await asyncio.to_thread(b.status_delete, posted.id)
            gone = await next_event(public, "delete")
            assert gone["payload"] == str(posted.id)

    asyncio.run(scenario())


def test_home_stream_gets_statuses_of_followed_accounts(server_url: str, alice: Person, bob: Person) -> None:
    app = register_app(server_url)
    a, b = client_for(server_url, alice, app), client_for(server_url, bob, app)
    a.account_follow(b.me().id)

    async def scenario() -> None:
        async with websockets.connect(ws_url(server_url, "stream=user"), subprotocols=[a.access_token]) as user:
            await asyncio.sleep(0.3)
            posted = await asyncio.to_thread(b.status_post, "followers, hello", visibility="private")
            update = await next_event(user, "update")
            body = json.loads(update["payload"])
            assert body["id"] == str(posted.id) and body["visibility"] == "private" and body["favourited"] is False

    asyncio.run(scenario())


def test_refusals(server_url: str) -> None:
    async def scenario() -> None:
        with pytest.raises(websockets.exceptions.WebSocketException):
            async with websockets.connect(ws_url(server_url, "stream=public&access_token=wrong")) as socket:
                await socket.recv()
        async with websockets.connect(ws_url(server_url, "stream=user")) as anonymous:
            assert json.loads(await anonymous.recv()) == {"error": "Missing access token"}
            await anonymous.send("not json")
            assert json.loads(await anonymous.recv()) == {"error": "Unknown message"}

    asyncio.run(scenario())


def test_a_process_serving_no_clients_reaches_them_through_the_database(server_url: str) -> None:
    """The embedded worker's messages (a remote status arrived through the inbox job) reach the web
    process's clients: written to api_stream_messages, read by the web process's hub."""
    worker_hub = Hub()  # a process that serves no streaming endpoint

    async def scenario() -> None:
        async with websockets.connect(ws_url(server_url, "stream=public")) as public:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(worker_hub.publish, ["public"], "update", {"id": "42"})
            update = await next_event(public, "update", timeout=5)
            assert json.loads(update["payload"]) == {"id": "42"}

    asyncio.run(scenario())
