"""Concurrent failed logins on the embedded SQLite database: every one counted, none a 500."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from server.floor.db import session_scope
from server.floor.ratelimit import RateHit
from tests.support.browser import LiveServer

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CLIENTS, TRIES = 8, 3


def guess(base_url: str, n: int) -> list[int]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        form = {"email": f"guess{n}@example.org", "password": "wrong", "csrf_token": token}
        return [client.post("/login", data=form).status_code for _ in range(TRIES)]


def test_concurrent_failures_are_all_recorded(live_server: LiveServer) -> None:
    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = [s for batch in pool.map(lambda n: guess(live_server.url, n), range(CLIENTS)) for s in batch]
    assert statuses == [400] * CLIENTS * TRIES
    with session_scope() as db:
        counted = db.scalar(select(func.count(RateHit.id)).where(RateHit.scope == "login-email"))
    assert counted == CLIENTS * TRIES
