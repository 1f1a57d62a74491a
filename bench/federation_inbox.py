"""Inbox throughput: signed activities POSTed to a real `mechmooc serve`, verified and recorded.

    python3 bench/federation_inbox.py [--activities 2000] [--senders 50] [--concurrency 16] [--repeat 3]

Starts `mechmooc serve --no-worker` on 127.0.0.1 (SQLite unless MECHMOOC_DATABASE_URL is set),
caches the remote senders' actors (as after their first activity), POSTs pre-signed `Like`
activities, and prints accepted (verified and stored, 202) activities/s. The baseline, measured in
the same run and round after round with ours: the durable minimum, bench/inbox_baseline.py (a bare
Starlette endpoint with serve's uvicorn settings that reads the body, parses the JSON, verifies one
RSA signature with a cached key and inserts one row with a commit), on a data dir (and, on
PostgreSQL, a database) of its own. Prints the median of the rounds' ratios, also in server CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpcore
import httpx
from federation_support import ROOT, rsa_rate

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


def start_baseline(root: Path, database_url: str | None, keys: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """bench/inbox_baseline.py on a free port with a data dir (and database) of its own; (process, URL)."""
    from tests.support.instances import base_environment, free_port, fresh_postgres_database

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (root / "baseline-keys.json").write_text(json.dumps(keys))
    env = base_environment({"MECHMOOC_DATA_DIR": str(root / "baseline"), "MECHMOOC_URL": url, "PYTHONPATH": str(ROOT)})
    if database_url:
        env["MECHMOOC_DATABASE_URL"] = fresh_postgres_database("mechmooc_bench_baseline")
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("inbox_baseline.py")),
            str(port),
            str(root / "baseline-keys.json"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the baseline server did not start")


def measure(
    url: str, pid: int, requests: list[tuple[dict[str, str], bytes]], concurrency: int
) -> tuple[float, float, list[int]]:
    """POST every request; (activities/s accepted, server CPU ms per activity, statuses)."""
    start, server_cpu = time.perf_counter(), cpu_seconds(pid)
    statuses = asyncio.run(post_all(url + "/inbox", requests, concurrency))
    elapsed, server_cpu = time.perf_counter() - start, cpu_seconds(pid) - server_cpu
    accepted = statuses.count(202)
    return accepted / elapsed, server_cpu / max(1, accepted) * 1000, statuses


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from sqlalchemy import func, select

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
    database_url = os.environ.get("MECHMOOC_DATABASE_URL")
    extra = {"MECHMOOC_DATABASE_URL": database_url} if database_url else {}
    extra["PYTHONPATH"] = str(ROOT)  # the server runs this repository's code
    with Instance(root / "alpha", env=extra, worker=False) as instance:
        boot(load_settings(environ={k: v for k, v in instance.env.items() if k.startswith("MECHMOOC_")}), migrate=False)
        senders, public = [], {}
        with session_scope() as session:
            session.add(Course(slug="gentle-python", title="Gentle Python"))
            for n in range(args.senders):
                actor = f"https://social{n % 7}.example/users/learner{n}"
                private, public_pem = generate_pem()
                session.add(
                    RemoteActor(
                        ap_id=actor, inbox=f"{actor}/inbox", key_id=f"{actor}#main-key", public_key_pem=public_pem
                    )
                )
                senders.append((actor, SigningKey(key_id=f"{actor}#main-key", private_pem=private)))
                public[f"{actor}#main-key"] = public_pem
        course = urls.course("gentle-python")
        baseline, baseline_url = start_baseline(root, database_url, public)
        assert instance.process is not None
        rounds: list[tuple[float, float, float, float]] = []
        try:

            def signed(url: str, round_: int) -> list[tuple[dict[str, str], bytes]]:
                requests = []
                for n in range(args.activities):
                    actor, key = senders[n % len(senders)]
                    activity = {"id": f"{actor}#likes/{round_}-{n}", "type": "Like", "actor": actor, "object": course}
                    body = json.dumps(activity).encode()
                    headers = {"Content-Type": "application/activity+json"}
                    headers |= sign_request(key, "POST", url + "/inbox", headers, body, now())
                    requests.append((headers, body))
                return requests

            for round_ in range(args.repeat):
                ours = signed(instance.url, round_)
                bare = signed(baseline_url, round_)
                ours_rate, ours_cpu, statuses = measure(instance.url, instance.process.pid, ours, args.concurrency)
                with session_scope() as session:
                    stored = session.scalar(select(func.count()).select_from(InboxActivity))
                expected = args.activities * (round_ + 1)
                assert statuses.count(202) == args.activities and stored == expected, (stored, set(statuses))
                bare_rate, bare_cpu, bare_statuses = measure(baseline_url, baseline.pid, bare, args.concurrency)
                assert bare_statuses.count(202) == args.activities, set(bare_statuses)
                rounds.append((ours_rate, ours_cpu, bare_rate, bare_cpu))
                print(
                    f"round {round_ + 1}: ours {ours_rate:.0f} activities/s ({ours_cpu:.2f} ms server CPU each), "
                    f"baseline {bare_rate:.0f}/s ({bare_cpu:.2f} ms), ratio {ours_rate / bare_rate:.2f} "
                    f"(in CPU time {bare_cpu / ours_cpu:.2f})",
                    flush=True,
                )
            verifications, verifications_cpu = rsa_rate(verify=True)
        finally:
            baseline.terminate()
            baseline.wait(30)
    median = statistics.median
    print(
        f"activities {args.activities} from {args.senders} senders, {args.concurrency} at a time, {args.repeat} rounds"
    )
    print(
        f"ours (every check, dedupe, blocks, the stored row): {median(r[0] for r in rounds):.0f} activities/s, "
        f"{median(r[1] for r in rounds):.2f} ms server CPU each (medians)"
    )
    print(
        f"baseline (bare endpoint: body, JSON, one RSA verification, one row committed): "
        f"{median(r[2] for r in rounds):.0f} activities/s, {median(r[3] for r in rounds):.2f} ms server CPU each"
    )
    print(f"ratio to the baseline (median of the rounds' ratios): {median(r[0] / r[2] for r in rounds):.2f}")
    print(f"ratio in CPU time: {median(r[3] / r[1] for r in rounds):.2f}")
    print(f"a raw RSA-2048 verification: {1000 / verifications_cpu:.3f} ms CPU ({verifications:.0f} per wall second)")


if __name__ == "__main__":
    main()
