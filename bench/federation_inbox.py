"""Inbox throughput: signed activities POSTed to a real `mechmooc serve`, verified and recorded.

    python3 bench/federation_inbox.py [--activities 2000] [--senders 50] [--concurrency 16]

Starts `mechmooc serve --no-worker` on 127.0.0.1 (SQLite unless MECHMOOC_DATABASE_URL is set),
caches the remote senders' actors (as after their first activity), POSTs pre-signed `Like`
activities, and prints accepted (verified and stored, 202) activities/s and the ratio to raw
RSA-2048 signature verifications/s measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import httpcore
from federation_support import rsa_rate

from tests.support.instances import Instance


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its waited-for children used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


async def post_all(url: str, requests: list[tuple[dict[str, str], bytes]], concurrency: int) -> list[int]:
    """POST every (headers, body) to `url`, `concurrency` at a time; the status codes.

    httpcore without httpx's layers on top: the sender shares the 2 cores with the server, so the
    less CPU it takes per POST, the more the figure says about the server.
    """
    limit = asyncio.Semaphore(concurrency)
    async with httpcore.AsyncConnectionPool(max_connections=concurrency) as pool:

        async def one(headers: dict[str, str], body: bytes) -> int:
            async with limit:
                response = await pool.request("POST", url, headers=list(headers.items()), content=body)
                return response.status

        return await asyncio.gather(*(one(h, b) for h, b in requests))


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    from courses.models import Course
    from federation.models import InboxActivity, RemoteActor
    from federation.protocol.crypto import SigningKey, generate_pem
    from federation.protocol.signatures import sign_request
    from server.floor import urls
    from server.floor.clock import now
    from server.floor.db import session_scope
    from server.floor.settings import load_settings
    from server.roof.bootstrap import boot

    root = Path(tempfile.mkdtemp(prefix="mechmooc-inbox-"))
    extra = (
        {"MECHMOOC_DATABASE_URL": os.environ["MECHMOOC_DATABASE_URL"]}
        if os.environ.get("MECHMOOC_DATABASE_URL")
        else {}
    )
    with Instance(root / "alpha", env=extra, worker=False) as instance:
        boot(load_settings(environ={k: v for k, v in instance.env.items() if k.startswith("MECHMOOC_")}), migrate=False)
        senders = []
        with session_scope() as session:
            session.add(Course(slug="gentle-python", title="Gentle Python"))
            for n in range(args.senders):
                actor = f"https://social{n % 7}.example/users/learner{n}"
                private, public = generate_pem()
                session.add(
                    RemoteActor(ap_id=actor, inbox=f"{actor}/inbox", key_id=f"{actor}#main-key", public_key_pem=public)
                )
                senders.append((actor, SigningKey(key_id=f"{actor}#main-key", private_pem=private)))
        course, inbox = urls.course("gentle-python"), instance.url + "/inbox"
        requests = []
        for n in range(args.activities):
            actor, key = senders[n % len(senders)]
            body = json.dumps({"id": f"{actor}#likes/{n}", "type": "Like", "actor": actor, "object": course}).encode()
            headers = {"Content-Type": "application/activity+json"}
            headers |= sign_request(key, "POST", inbox, headers, body, now())
            requests.append((headers, body))
        verifications, verifications_cpu = rsa_rate(verify=True)
        assert instance.process is not None
        start, server_cpu = time.perf_counter(), cpu_seconds(instance.process.pid)
        client_cpu = time.process_time()
        statuses = asyncio.run(post_all(inbox, requests, args.concurrency))
        elapsed, server_cpu = time.perf_counter() - start, cpu_seconds(instance.process.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        with session_scope() as session:
            from sqlalchemy import func, select

            stored = session.scalar(select(func.count()).select_from(InboxActivity))
    accepted = statuses.count(202)
    assert accepted == stored == args.activities, (accepted, stored, {s: statuses.count(s) for s in set(statuses)})
    print(f"activities {args.activities} from {args.senders} senders, {args.concurrency} at a time, one serve process")
    print(f"verified and stored {accepted} in {elapsed:.2f} s: {accepted / elapsed:.0f} activities/s")
    print(
        f"raw RSA-2048 verifications/s (same run, one core): {verifications:.0f} ({verifications_cpu:.0f} per CPU second)"
    )
    print(f"ratio inbox/raw verification: {accepted / elapsed / verifications:.3f}")
    print(
        f"server CPU: {server_cpu / accepted * 1000:.2f} ms per activity, a verification {1000 / verifications_cpu:.3f} ms"
    )
    print(f"client CPU (this process, sending): {client_cpu / accepted * 1000:.2f} ms per activity")
    print(f"ratio in CPU time: {accepted / server_cpu / verifications_cpu:.3f}")


if __name__ == "__main__":
    main()
