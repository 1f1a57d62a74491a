"""Public pages, warm, against a Starlette hello-world JSON endpoint measured in the same run.

    python3 bench/pages.py [--database sqlite|postgres] [--courses 200] [--runs 2000] [--learners 100000]
                           [--requests 300] [--concurrency 8] [--repeat 3]

The database is realistic: `--courses` copies of gentle-python (two published versions each),
`--runs` upcoming runs spread over them, `--learners` confirmed learners spread over the runs
(tests/support/catalogue_world.py). It is built once and kept: on SQLite as a file under
~/.cache/mechmooc-bench/ (copied into each run's data dir), on PostgreSQL as a database named after
the sizes; both keyed by the migrations, so a schema change builds them again.

A real `mechmooc serve --no-worker` serves the code of this repository (PYTHONPATH); the baseline,
bench/hello_baseline.py, runs beside it with the same uvicorn settings. Each round GETs the
baseline and then the home page (with the catalogue), /courses, a course page and a run page,
`--requests` times each, `--concurrency` at a time from one httpcore client, after a warm-up.
Prints each page's requests/s and its ratio to the baseline of the same round, then the medians.
and a person's profile page (/@ada, 60 public posts).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpcore
import httpx
from federation_support import ROOT
from sqlalchemy import create_engine, text

from tests.support.instances import Instance, free_port

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mechmooc-bench"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def schema_key() -> str:
    """A short hash of the migrations: a cached database is rebuilt when they change."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


PERSON = "ada"  # the person whose profile page is measured
POSTS = 60  # her public posts (the page shows the newest 20)


def person_with_posts(session: object) -> None:
    """A local person (PERSON) with POSTS public posts, some with a hashtag, a link or a reply."""
    from community import people, statuses
    from server.floor.accounts import create_account

    account = create_account(session, f"{PERSON}@example.org", "not used in the bench", handle=PERSON)  # type: ignore[arg-type]
    author = people.local_profile(session, account)  # type: ignore[arg-type]
    author.display_name, author.note = "Ada", "Learning Python with the gentle course. #python"
    last = None
    for number in range(POSTS):
        text = f"Unit {number % 7 + 1} done: loops and lists, post {number}. #python https://example.org/{number}"
        last = statuses.post(session, author, text, in_reply_to_id=last.id if last and number % 5 == 0 else None)  # type: ignore[arg-type]


def build(environ: dict[str, str], courses: int, runs: int, learners: int) -> tuple[str, str]:
    """Boot on `environ` (migrating), fill the catalogue and PERSON's posts; (a course slug, a run handle)
    in the catalogue's middle."""
    from server.floor.db import get_engine, session_scope
    from server.floor.settings import load_settings
    from server.roof.bootstrap import boot
    from tests.support.catalogue_world import build_catalogue

    boot(load_settings(environ=environ))
    began = time.perf_counter()
    with session_scope() as session:
        made = build_catalogue(session, courses, max(1, runs // courses), learners)
        person_with_posts(session)
    print(f"built the database in {time.perf_counter() - began:.0f} s", flush=True)
    get_engine().dispose()
    return made.course, made.run


def sqlite_data(root: Path, courses: int, runs: int, learners: int) -> tuple[Path, str, str]:
    """A data dir holding a copy of the cached SQLite database (built first if missing)."""
    key = f"pages-{courses}-{runs}-{learners}-{schema_key()}-p"
    cached, names = CACHE / f"{key}.sqlite3", CACHE / f"{key}.names"
    if not cached.exists() or not names.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="mechmooc-pages-build-"))
        environ = {"MECHMOOC_DATA_DIR": str(scratch), "MECHMOOC_URL": "http://127.0.0.1:9"}
        course, run = build(environ, courses, runs, learners)
        database = scratch / "mechmooc.sqlite3"
        connection = __import__("sqlite3").connect(database)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        shutil.copyfile(database, cached)
        names.write_text(f"{course}\n{run}\n")
        shutil.rmtree(scratch, ignore_errors=True)
    data = root / "data"
    data.mkdir(parents=True)
    shutil.copyfile(cached, data / "mechmooc.sqlite3")
    course, run = names.read_text().split()
    return data, course, run


def postgres_database(courses: int, runs: int, learners: int) -> tuple[str, str, str]:
    """The URL of the kept PostgreSQL database (built first if missing), a course slug and a run handle."""
    name = f"mechmooc_pages_{courses}_{runs}_{learners}_{schema_key()}_p"
    url = f"{PG_SERVER}/{name}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        names = CACHE / f"{name}.names"
        if not exists or not names.exists():
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            scratch = Path(tempfile.mkdtemp(prefix="mechmooc-pages-build-"))
            environ = {
                "MECHMOOC_DATA_DIR": str(scratch),
                "MECHMOOC_URL": "http://127.0.0.1:9",
                "MECHMOOC_DATABASE_URL": url,
            }
            course, run = build(environ, courses, runs, learners)
            CACHE.mkdir(parents=True, exist_ok=True)
            names.write_text(f"{course}\n{run}\n")
            engine = create_engine(url, isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                connection.execute(text("VACUUM ANALYZE"))
            engine.dispose()
    finally:
        admin.dispose()
    course, run = names.read_text().split()
    return url, course, run


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:13]) / os.sysconf("SC_CLK_TCK")


async def hammer(base: str, path: str, count: int, concurrency: int, pid: int) -> tuple[float, float]:
    """GET `path` `count` times, `concurrency` at a time; (requests per second, server CPU ms per request).
    Every answer must be 200."""
    limit = asyncio.Semaphore(concurrency)
    async with httpcore.AsyncConnectionPool(max_connections=concurrency) as pool:

        async def one() -> None:
            async with limit:
                response = await pool.request("GET", base + path, headers=[("Accept", "text/html")])
                assert response.status == 200, (path, response.status)

        await asyncio.gather(*(one() for _ in range(min(count, 3 * concurrency))))  # warm
        began, cpu = time.perf_counter(), cpu_seconds(pid)
        await asyncio.gather(*(one() for _ in range(count)))
        return count / (time.perf_counter() - began), (cpu_seconds(pid) - cpu) / count * 1000


def start_hello() -> tuple[subprocess.Popen[bytes], str]:
    """bench/hello_baseline.py on a free port; (process, base URL) once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("hello_baseline.py")), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/", timeout=1)
            return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the hello-world baseline did not start")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--courses", type=int, default=200)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--cache-seconds",
        type=int,
        default=None,
        help="MECHMOOC_PAGE_CACHE_SECONDS of the server (default: the server's own; 0: every page rendered)",
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="mechmooc-pages-"))
    env = {"PYTHONPATH": str(ROOT)}  # the server runs this repository's code
    if args.cache_seconds is not None:
        env["MECHMOOC_PAGE_CACHE_SECONDS"] = str(args.cache_seconds)
    if args.database == "sqlite":
        _, course, run = sqlite_data(root / "alpha", args.courses, args.runs, args.learners)
    else:
        url, course, run = postgres_database(args.courses, args.runs, args.learners)
        env["MECHMOOC_DATABASE_URL"] = url
    pages = {
        "home": "/",
        "catalogue": "/courses",
        "course": f"/courses/{course}",
        "run": f"/runs/{run}",
        "profile": f"/@{PERSON}",
    }
    hello, hello_url = start_hello()
    rounds: list[dict[str, float]] = []
    cpu: list[dict[str, float]] = []
    try:
        with Instance(root / "alpha", env=env, worker=False) as instance:
            for number in range(1, args.repeat + 1):
                assert instance.process is not None
                measured = {"hello": asyncio.run(hammer(hello_url, "/", args.requests, args.concurrency, hello.pid))}
                for name, path in pages.items():
                    measured[name] = asyncio.run(
                        hammer(instance.url, path, args.requests, args.concurrency, instance.process.pid)
                    )
                figures = {name: rate for name, (rate, _) in measured.items()}
                rounds.append(figures)
                cpu.append({name: ms for name, (_, ms) in measured.items()})
                print(
                    f"round {number}: hello-world {figures['hello']:.0f}/s; "
                    + ", ".join(
                        f"{name} {figures[name]:.0f}/s ({figures[name] / figures['hello']:.2f})" for name in pages
                    ),
                    flush=True,
                )
    finally:
        hello.terminate()
        hello.wait(30)
    print(
        f"database {args.database}: {args.courses} courses, {args.runs} runs, {args.learners} learners; "
        f"{args.requests} requests a page, {args.concurrency} at a time, {args.repeat} rounds (medians); "
        f"page cache: {'server default' if args.cache_seconds is None else f'{args.cache_seconds} s'}"
    )
    hello_cpu = statistics.median(c["hello"] for c in cpu)
    print(
        f"hello-world JSON endpoint: {statistics.median(r['hello'] for r in rounds):.0f} requests/s, "
        f"{hello_cpu:.2f} ms server CPU each"
    )
    for name, path in pages.items():
        rate = statistics.median(r[name] for r in rounds)
        ratio = statistics.median(r[name] / r["hello"] for r in rounds)
        ms = statistics.median(c[name] for c in cpu)
        cpu_ratio = statistics.median(c["hello"] / c[name] for c in cpu)
        print(
            f"{name} ({path}): {rate:.0f} requests/s, ratio to hello-world {ratio:.2f}; "
            f"{ms:.2f} ms server CPU each, ratio in CPU time {cpu_ratio:.2f}"
        )


if __name__ == "__main__":
    main()
