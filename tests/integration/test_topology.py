"""The docker-compose topology without Docker: PostgreSQL + Redis, `db upgrade`, two web processes,
one worker and one scheduler — each web process serves, and the worker runs the scheduled job."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from tests.support.backends import REDIS_URL, require_postgres, require_redis
from tests.support.instances import Command, Instance, base_environment, free_port, fresh_postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def _redis_url() -> str:
    """A Redis database of this xdist worker's own, emptied (db 10 + worker number)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    url = REDIS_URL.rsplit("/", 1)[0] + f"/{10 + int(worker.lstrip('gw') or 0) % 6}"
    redis.Redis.from_url(url).flushdb()
    return url


def _parent_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(f"no PPid for {pid}")


def _heartbeats(database_url: str) -> list[tuple[str, int]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [(row[0], row[1]) for row in connection.execute(text("SELECT worker, beats FROM worker_heartbeats"))]
    finally:
        engine.dispose()


def test_two_web_processes_a_worker_and_a_scheduler_on_postgres_and_redis(tmp_path):
    require_postgres()
    require_redis()
    database_url = fresh_postgres_database(f"mechmooc_topology_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    public_url = f"http://127.0.0.1:{free_port()}"  # the one address the load balancer would answer on
    shared = {
        "MECHMOOC_URL": public_url,
        "MECHMOOC_INSECURE_HTTP": "1",
        "MECHMOOC_DATABASE_URL": database_url,
        "MECHMOOC_BROKER_URL": _redis_url(),
        "MECHMOOC_SECRET_KEY": "topology-test-secret",
    }

    migrate = Instance(tmp_path / "migrate", env=shared).cli("db", "upgrade")
    assert migrate.returncode == 0, migrate.stderr

    env = base_environment({**shared, "MECHMOOC_DATA_DIR": str(tmp_path / "jobs-data")})
    worker = Command(["worker", "--concurrency", "1"], env, tmp_path / "worker")
    scheduler = Command(["scheduler"], env, tmp_path / "scheduler")
    webs = [Instance(tmp_path / f"web-{n}", env=shared, worker=False) for n in (1, 2)]
    try:
        for web in webs:
            web.start()
        for web in webs:
            report = web.get("/healthz").json()
            assert report["database"]["ok"] and report["broker"]["ok"], report
            assert report["broker"]["detail"] == "reachable"
            assert "celery@" not in web.logs()  # --no-worker: the web process runs no worker

        # The scheduler sends the heartbeat through Redis; the worker runs it against PostgreSQL.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _heartbeats(database_url):
            time.sleep(0.5)
        beats = _heartbeats(database_url)
        assert beats, f"no heartbeat ran\nworker:\n{worker.logs()}\nscheduler:\n{scheduler.logs()}"
        (name, _count), *_ = beats
        pid = int(name.rsplit(":", 1)[1])
        assert pid == worker.pid or _parent_of(pid) == worker.pid, (name, worker.pid)

        # Both web processes see the same worker through the shared database.
        for web in webs:
            report = web.get("/healthz").json()
            assert report["status"] == "ok" and report["worker"]["age_seconds"] is not None, report
    finally:
        for web in webs:
            web.stop()
        codes = {"scheduler": scheduler.stop(), "worker": worker.stop()}
    assert codes == {"scheduler": 0, "worker": 0}, codes
    assert not any(web.leftovers for web in webs)
