"""Fan-out of course announcements to 10,000 followers over 200 shared inboxes on local sinks.

    python3 bench/federation_fanout.py [--followers 10000] [--inboxes 200] [--announcements 5] [--workers 1]

Prints POSTs/s (one per shared inbox per announcement), followers reached/s, and the ratio of
POSTs/s to the signing-bound ceiling: RSA-2048 signatures/s on this machine, measured in the same
run (each POST needs exactly one signature); also the same ratio in CPU time, which holds steady
when other work shares the machine. Uses SQLite unless MECHMOOC_DATABASE_URL is set. With
`--workers N`, N worker processes run the delivery job at once and share the rows (their leases
keep them apart), as N worker threads or processes of an instance would.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from federation_support import SinkProcess, rsa_rate


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _in_processes(job: Callable[[], object], count: int) -> None:
    """Run `job` in `count` forked processes at once (each with its own database connections)."""

    def run() -> None:
        from server.floor.db import get_engine

        get_engine().dispose(close=False)
        job()

    processes = [multiprocessing.get_context("fork").Process(target=run) for _ in range(count)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        assert process.exitcode == 0, process.exitcode


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=10_000)
    parser.add_argument("--inboxes", type=int, default=200)
    parser.add_argument("--announcements", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    from sqlalchemy import func, insert, select

    from courses.models import Course
    from federation.models import Delivery, Follower
    from federation.transport import delivery
    from federation.transport.keys import signing_key
    from server.floor import urls
    from server.floor.db import session_factory
    from server.floor.settings import load_settings
    from server.roof.bootstrap import boot

    data = Path(tempfile.mkdtemp(prefix="mechmooc-fanout-"))
    environ = {"MECHMOOC_DATA_DIR": str(data), "MECHMOOC_URL": "http://127.0.0.1:9", "MECHMOOC_INSECURE_HTTP": "1"}
    if os.environ.get("MECHMOOC_DATABASE_URL"):
        environ["MECHMOOC_DATABASE_URL"] = os.environ["MECHMOOC_DATABASE_URL"]
    boot(load_settings(environ=environ))
    sink = SinkProcess(args.inboxes)
    try:
        session = session_factory()()
        session.add(Course(slug="gentle-python", title="Gentle Python"))
        course = urls.course("gentle-python")
        hosts = [f"http://127.0.0.1:{port}" for port in sink.ports]
        rows = [
            {
                "actor": course,
                "follower": f"{hosts[n % len(hosts)]}/users/learner{n}",
                "inbox": f"{hosts[n % len(hosts)]}/users/learner{n}/inbox",
                "shared_inbox": f"{hosts[n % len(hosts)]}/inbox",
            }
            for n in range(args.followers)
        ]
        session.execute(insert(Follower), rows)
        session.commit()
        signing_key(session, course)  # the course's key is made outside the timing
        session.commit()

        signs, signs_cpu = rsa_rate()
        start, cpu_start = time.perf_counter(), time.process_time()
        for n in range(args.announcements):
            note = {"id": f"{course}#announce-{n}", "type": "Announce", "actor": course, "object": course}
            delivery.enqueue(session, note, sender=course, recipients=[f"{course}/followers"])
            session.commit()
        enqueued = time.perf_counter() - start
        children_cpu = _children_cpu()
        if args.workers == 1:
            delivery.deliver_due()  # what the worker's job runs: every batch, connections kept between them
        else:
            _in_processes(delivery.deliver_due, args.workers)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start + _children_cpu() - children_cpu
        done = session.scalar(select(func.count()).select_from(Delivery).where(Delivery.state == "done"))
        session.close()
    finally:
        received = sink.stop()
    posts = args.inboxes * args.announcements
    assert done == posts == received, (done, posts, received)
    print(
        f"followers {args.followers}, shared inboxes {args.inboxes}, announcements {args.announcements}, "
        f"delivery workers {args.workers}"
    )
    print(f"enqueue (followers -> {posts} rows): {enqueued:.2f} s")
    print(
        f"delivered {posts} signed POSTs in {elapsed:.2f} s: {posts / elapsed:.0f} POSTs/s, {args.followers * args.announcements / elapsed:.0f} followers reached/s"
    )
    print(f"RSA-2048 signatures/s (same run, one core): {signs:.0f} per wall second, {signs_cpu:.0f} per CPU second")
    print(f"ratio POSTs/s to the signing-bound ceiling: {posts / elapsed / signs:.2f}")
    print(f"CPU: {cpu / posts * 1000:.2f} ms per POST, of which a signature is {1000 / signs_cpu:.2f} ms")
    print(f"ratio in CPU time (POSTs per CPU second / signatures per CPU second): {posts / cpu / signs_cpu:.2f}")


if __name__ == "__main__":
    main()
