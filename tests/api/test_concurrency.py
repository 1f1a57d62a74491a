"""Many API calls at once on the embedded SQLite default: posts, favourites, boosts and timeline
reads from several threads all succeed (no 'database is locked' answered as an error)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.api.clients import client_for, register_app
from tests.api.conftest import Person


def test_parallel_writes_and_reads_all_succeed(server_url: str, alice: Person, bob: Person) -> None:
    app = register_app(server_url)
    a, b = client_for(server_url, alice, app), client_for(server_url, bob, app)
    a.account_follow(b.me().id)
    target = a.status_post("boost and favourite me")
    tokens = {"a": a.access_token, "b": b.access_token}

    def work(n: int) -> list[int]:
        who = "a" if n % 2 else "b"
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        codes = []
        with httpx.Client(base_url=server_url, timeout=60) as client:
            for k in range(5):
                codes.append(
                    client.post("/api/v1/statuses", data={"status": f"note {n}-{k}"}, headers=headers).status_code
                )
                codes.append(client.get("/api/v1/timelines/home", headers=headers).status_code)
            if who == "b":
                codes.append(client.post(f"/api/v1/statuses/{target.id}/favourite", headers=headers).status_code)
                codes.append(client.post(f"/api/v1/statuses/{target.id}/reblog", headers=headers).status_code)
        return codes

    with ThreadPoolExecutor(8) as pool:
        codes = [code for found in pool.map(work, range(8)) for code in found]
    assert set(codes) == {200}, sorted(set(codes))
    notes, page = 0, a.timeline_home(limit=40)
    while page:
        notes += sum(1 for s in page if s.content.startswith("<p>note"))
        page = a.fetch_next(page)
    assert notes == 40  # Ann's twenty and Bob's twenty (she follows him), each once
    assert a.status(target.id).favourites_count == 1
