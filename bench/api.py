"""The client API's home timeline against the web's /home page, and streaming fan-out (issue 14).

    python3 bench/api.py [--accounts 2000] [--posts 200000] [--follows 1000] [--requests 200]
                         [--clients 1000]

A SQLite instance is filled directly (bulk inserts, no services): `--accounts` local people with
profiles, `--posts` public statuses spread over them (time-sorted ids), one viewer who follows
`--follows` of them, whose home feed (`community_feed`) holds every status of those authors, as
fan-out on write would have made it. A real `mechmooc serve --no-worker` serves it.

1. Home timeline: GET /api/v1/timelines/home?limit=40 (a bearer token) and GET /home (the web
   page of the same 40 statuses, a session cookie), `--requests` each, one at a time after a
   warm-up: p50/p99 latency of each and the ratio API/page.
2. Streaming fan-out: `--clients` SSE connections to /api/v1/streaming/public, then one public
   status posted through the API: the time from the POST until every client has the `update`.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from federation_support import ROOT

from tests.support.instances import Instance

PASSWORD = "correct horse battery"
BATCH = 10_000


def build(data_dir: Path, url: str, accounts: int, posts: int, follows: int) -> str:
    """Fill the database; the viewer's access token."""
    from sqlalchemy import insert

    from community.models import FeedEntry, Follow, Profile, Status
    from server.floor.accounts import Account, hash_password
    from server.floor.clock import now
    from server.floor.db import get_engine, session_scope
    from server.floor.ids import new_id
    from server.floor.settings import load_settings
    from server.roof.bootstrap import boot
    from web.api.models import Application, Token, digest

    boot(load_settings(environ={"MECHMOOC_DATA_DIR": str(data_dir), "MECHMOOC_URL": url}))
    began = time.perf_counter()
    start = now() - timedelta(days=365)
    token = secrets.token_urlsafe(32)
    with session_scope() as db:
        viewer = Account(email="viewer@example.org", handle="viewer", password_hash=hash_password(PASSWORD))
        db.add(viewer)
        db.flush()
        db.execute(insert(Account), [{"email": f"p{n}@example.org", "handle": f"p{n}"} for n in range(accounts)])
        ids = dict(db.execute(__import__("sqlalchemy").text("SELECT handle, id FROM accounts")).all())
        profile_ids = {handle: new_id(start) for handle in ids}
        db.execute(
            insert(Profile),
            [
                {"id": profile_ids[h], "account_id": ids[h], "uri": f"{url}/users/{h}", "url": f"{url}/@{h}",
                 "username": h, "created_at": start}
                for h in ids
            ],
        )  # fmt: skip
        me = profile_ids["viewer"]
        followed = [profile_ids[f"p{n}"] for n in range(min(follows, accounts))]
        db.execute(
            insert(Follow), [{"id": new_id(), "profile_id": me, "target_id": t, "created_at": start} for t in followed]
        )
        authors = [profile_ids[f"p{n}"] for n in range(accounts)]
        followed_set = set(followed)
        step = timedelta(days=365) / max(posts, 1)
        for first in range(0, posts, BATCH):
            rows, feed = [], []
            for n in range(first, min(first + BATCH, posts)):
                at = start + step * n
                author = authors[n % len(authors)]
                status_id = new_id(at)
                rows.append({"id": status_id, "profile_id": author, "kind": "status", "source": "local", "local": True,
                             "visibility": "public", "text": f"status {n}", "html": f"<p>status {n}</p>",
                             "ap_id": f"{url}/posts/{status_id}", "created_at": at})  # fmt: skip
                if author in followed_set:
                    feed.append({"profile_id": me, "status_id": status_id})
            db.execute(insert(Status), rows)
            if feed:
                db.execute(insert(FeedEntry), feed)
        app = Application(name="bench", redirect_uris="urn:ietf:wg:oauth:2.0:oob", scopes="read write",
                          client_id=secrets.token_urlsafe(16), client_secret_hash=digest("x"))  # fmt: skip
        db.add(app)
        db.flush()
        db.add(Token(application_id=app.id, account_id=viewer.id, access_hash=digest(token), scope="read write"))
    get_engine().dispose()
    print(f"built {accounts} accounts, {posts} statuses in {time.perf_counter() - began:.0f} s", flush=True)
    return token


def latencies(client: httpx.Client, path: str, count: int, headers: dict[str, str] | None = None) -> list[float]:
    """`count` sequential GETs of `path` after a warm-up: their times in ms (every answer 200)."""
    for _ in range(10):
        assert client.get(path, headers=headers).status_code == 200
    times = []
    for _ in range(count):
        began = time.perf_counter()
        answer = client.get(path, headers=headers)
        times.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return times


def p(times: list[float], q: float) -> float:
    """The q-quantile of `times`."""
    return statistics.quantiles(times, n=100)[int(q * 100) - 1]


def logged_in(base: str) -> httpx.Client:
    """A client with the viewer's session cookie."""
    client = httpx.Client(base_url=base, timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    client.post("/login", data={"email": "viewer@example.org", "password": PASSWORD, "csrf_token": token.group(1)})
    return client


async def fan_out(base: str, token: str, clients: int) -> tuple[float, int]:
    """Seconds from posting one status until all `clients` SSE listeners have it; how many did."""
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        opened = asyncio.Event()
        ready = 0
        arrived: list[float] = []

        async def listen() -> None:
            nonlocal ready
            async with client.stream("GET", "/api/v1/streaming/public") as response:
                assert response.status_code == 200, response.status_code
                lines = response.aiter_lines()
                await anext(lines)  # the opening comment: subscribed
                ready += 1
                if ready == clients:
                    opened.set()
                async for line in lines:
                    if line.startswith("event: update"):
                        arrived.append(time.perf_counter())
                        return

        tasks = [asyncio.create_task(listen()) for _ in range(clients)]
        await asyncio.wait_for(opened.wait(), 120)
        began = time.perf_counter()
        answer = await client.post(
            "/api/v1/statuses", data={"status": "to everyone"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text
        await asyncio.wait(tasks, timeout=60)
        for task in tasks:
            task.cancel()
        return (max(arrived) - began if arrived else float("nan")), len(arrived)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--follows", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=1000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mechmooc-api-"))
    instance = Instance(root, env={"PYTHONPATH": str(ROOT)}, worker=False)
    token = build(instance.data_dir, instance.url, args.accounts, args.posts, args.follows)
    with instance:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=instance.url, timeout=30) as api:
            assert len(api.get("/api/v1/timelines/home?limit=40", headers=headers).json()) == 40
            api_times = latencies(api, "/api/v1/timelines/home?limit=40", args.requests, headers)
        web = logged_in(instance.url)
        try:
            page_times = latencies(web, "/home", args.requests)
        finally:
            web.close()
        print(f"home via API  p50 {p(api_times, 0.5):.1f} ms  p99 {p(api_times, 0.99):.1f} ms")
        print(f"/home page    p50 {p(page_times, 0.5):.1f} ms  p99 {p(page_times, 0.99):.1f} ms")
        print(
            f"API / page    p50 {p(api_times, 0.5) / p(page_times, 0.5):.2f}x  p99 {p(api_times, 0.99) / p(page_times, 0.99):.2f}x"
        )
        seconds, got = asyncio.run(fan_out(instance.url, token, args.clients))
        print(
            f"streaming fan-out: one post to {args.clients} SSE clients: {got} got it, all within {seconds * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
