"""A web process's memory: RSS of `mechmooc serve --no-worker` before and after N requests.

    python3 bench/web_memory.py [--requests 10000] [--concurrency 8] [--database sqlite|postgres]

Serves the realistic database of bench/pages.py (200 courses, 2,000 runs, 100,000 learners; built
once and cached) and GETs the home page, /courses, a course page, a run page, a person's profile
(/@ada), the about page and nodeinfo in turn, `--requests` in all. Prints the serve process's RSS (VmRSS) once ready, after the
first 500 requests (warm) and at the end, and its peak (VmHWM). The server's page cache is on as by
default (`--cache-seconds 0` renders every page).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import httpcore
from federation_support import ROOT
from pages import PERSON, postgres_database, sqlite_data

from tests.support.instances import Instance


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of `pid` in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            found[name] = int(value.split()[0]) / 1024
    return found


async def browse(base: str, paths: list[str], count: int, concurrency: int) -> None:
    """GET the paths in turn, `count` requests, `concurrency` at a time (every answer must be 200)."""
    limit = asyncio.Semaphore(concurrency)
    async with httpcore.AsyncConnectionPool(max_connections=concurrency) as pool:

        async def one(path: str) -> None:
            async with limit:
                response = await pool.request("GET", base + path, headers=[("Accept", "text/html")])
                assert response.status == 200, (path, response.status)

        await asyncio.gather(*(one(paths[n % len(paths)]) for n in range(count)))


def main() -> None:
    """Run the measurement and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--cache-seconds", type=int, default=None, help="MECHMOOC_PAGE_CACHE_SECONDS of the server")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mechmooc-memory-"))
    env: dict[str, str] = {"PYTHONPATH": str(ROOT)}  # the server runs this repository's code
    if args.cache_seconds is not None:
        env["MECHMOOC_PAGE_CACHE_SECONDS"] = str(args.cache_seconds)
    if args.database == "sqlite":
        _, course, run = sqlite_data(root / "alpha", 200, 2000, 100_000)
    else:
        url, course, run = postgres_database(200, 2000, 100_000)
        env["MECHMOOC_DATABASE_URL"] = url
    paths = ["/", "/courses", f"/courses/{course}", f"/runs/{run}", f"/@{PERSON}", "/about", "/.well-known/nodeinfo"]
    with Instance(root / "alpha", env=env, worker=False) as instance:
        assert instance.process is not None
        pid = instance.process.pid
        ready = memory(pid)
        warm = min(500, args.requests)
        asyncio.run(browse(instance.url, paths, warm, args.concurrency))
        warmed = memory(pid)
        asyncio.run(browse(instance.url, paths, args.requests - warm, args.concurrency))
        end = memory(pid)
    print(f"database {args.database}; {args.requests} requests over {len(paths)} pages, {args.concurrency} at a time")
    print(
        f"web process RSS: ready {ready['VmRSS']:.0f} MB, after {warm} requests {warmed['VmRSS']:.0f} MB, "
        f"after {args.requests} {end['VmRSS']:.0f} MB (peak {end['VmHWM']:.0f} MB)"
    )


if __name__ == "__main__":
    main()
