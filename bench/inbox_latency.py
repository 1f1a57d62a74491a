"""Inbox latency: from an activity's 202 to its handling by the worker, on a real `mechmooc serve`.

    python3 bench/inbox_latency.py [--pairs 30] [--stream 200] [--rate 40]

Starts `mechmooc serve` with its embedded worker and scheduler (SQLite unless MECHMOOC_DATABASE_URL
is set), caches the remote senders' actors, then POSTs signed `Like` activities in two patterns:
- pairs: one activity, a second 0.1 s later (while the first is being handled), then a pause of
  0.5-1.5 s — the case where a wake-up sent while the job ran used to be lost until the next tick
  (the inbox job's tick is every 30 s);
- a stream: `--stream` activities at `--rate` per second.
"Handled" is when the bench sees the row leave the queued state (it polls the database every 5 ms).
Prints p50, p99 and the maximum of received -> handled for each pattern.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from federation_support import ROOT
from sqlalchemy import select

from tests.support.instances import Instance


def percentile(values: list[float], share: float) -> float:
    """The `share` percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


class Watcher(threading.Thread):
    """Polls the inbox table: when each activity id left the queued state (perf_counter)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.handled: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        """Poll until stopped."""
        from federation.models import InboxActivity
        from server.floor.db import session_factory

        session = session_factory()()
        query = select(InboxActivity.activity_id).where(InboxActivity.state != "queued")
        while not self.stop.is_set():
            seen = time.perf_counter()
            for activity_id in session.scalars(query):
                self.handled.setdefault(activity_id, seen)
            session.rollback()
            time.sleep(0.005)
        session.close()


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--stream", type=int, default=200)
    parser.add_argument("--rate", type=float, default=40.0)
    args = parser.parse_args()

    from courses.models import Course
    from federation.models import RemoteActor
    from federation.protocol.crypto import SigningKey, generate_pem
    from federation.protocol.signatures import sign_request
    from server.floor import urls
    from server.floor.clock import now
    from server.floor.db import session_scope
    from server.floor.settings import load_settings
    from server.roof.bootstrap import boot

    root = Path(tempfile.mkdtemp(prefix="mechmooc-latency-"))
    extra = (
        {"MECHMOOC_DATABASE_URL": os.environ["MECHMOOC_DATABASE_URL"]}
        if os.environ.get("MECHMOOC_DATABASE_URL")
        else {}
    )
    extra["PYTHONPATH"] = str(ROOT)  # the server runs this repository's code
    with Instance(root / "alpha", env=extra) as instance:
        boot(load_settings(environ={k: v for k, v in instance.env.items() if k.startswith("MECHMOOC_")}), migrate=False)
        senders = []
        with session_scope() as session:
            session.add(Course(slug="gentle-python", title="Gentle Python"))
            for n in range(10):
                actor = f"https://social{n}.example/users/learner{n}"
                private, public = generate_pem()
                session.add(
                    RemoteActor(ap_id=actor, inbox=f"{actor}/inbox", key_id=f"{actor}#main-key", public_key_pem=public)
                )
                senders.append((actor, SigningKey(key_id=f"{actor}#main-key", private_pem=private)))
        course, inbox = urls.course("gentle-python"), instance.url + "/inbox"
        watcher = Watcher()
        watcher.start()
        sent: dict[str, float] = {}
        counter = iter(range(10**9))

        def post(client: httpx.Client) -> str:
            n = next(counter)
            actor, key = senders[n % len(senders)]
            activity_id = f"{actor}#likes/{n}"
            body = json.dumps({"id": activity_id, "type": "Like", "actor": actor, "object": course}).encode()
            headers = {"Content-Type": "application/activity+json"}
            headers |= sign_request(key, "POST", inbox, headers, body, now())
            response = client.post(inbox, content=body, headers=headers)
            assert response.status_code == 202, response.text
            sent[activity_id] = time.perf_counter()
            return activity_id

        def wait_for(ids: list[str], limit: float = 90.0) -> None:
            deadline = time.perf_counter() + limit
            while any(i not in watcher.handled for i in ids) and time.perf_counter() < deadline:
                time.sleep(0.01)

        with httpx.Client(timeout=30) as client:
            wait_for([post(client)], limit=60)  # the worker is up and has run the job once
            random.seed(16)
            pairs: list[str] = []
            for _ in range(args.pairs):
                pairs.append(post(client))
                time.sleep(0.1)
                pairs.append(post(client))
                time.sleep(random.uniform(0.5, 1.5))
            wait_for(pairs)
            stream: list[str] = []
            start = time.perf_counter()
            for k in range(args.stream):
                time.sleep(max(0.0, start + k / args.rate - time.perf_counter()))
                stream.append(post(client))
            wait_for(stream)
        watcher.stop.set()
        watcher.join()
    for name, ids in (("pairs (second 0.1 s after the first)", pairs), (f"stream ({args.rate:g}/s)", stream)):
        latencies = [watcher.handled[i] - sent[i] for i in ids if i in watcher.handled]
        lost = len(ids) - len(latencies)
        print(
            f"{name}: {len(ids)} activities, received -> handled p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
            + (f", {lost} not handled within 90 s" if lost else "")
        )


if __name__ == "__main__":
    main()
