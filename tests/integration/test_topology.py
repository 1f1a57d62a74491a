"""The docker-compose topology without Docker: PostgreSQL + Redis, `db upgrade`, two web processes,
one worker and one scheduler — each web process serves, and the worker runs the scheduled job."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from server.floor.heartbeat import JOBS
from tests.support.backends import REDIS_URL, require_postgres, require_redis
from tests.support.instances import (
    Command,
    Instance,
    base_environment,
    drop_postgres_database,
    free_port,
    fresh_postgres_database,
    unique_database_name,
)


def _redis_url() -> str:
    """An emptied Redis database for this test process (8-15, by pid: other test runs may share the server)."""
    url = REDIS_URL.rsplit("/", 1)[0] + f"/{8 + os.getpid() % 8}"
    redis.Redis.from_url(url).flushdb()
    return url


def _parent_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(f"no PPid for {pid}")


def _heartbeats(database_url: str) -> list[tuple[str, int]]:
    """The beats of the periodic heartbeat job (`host:pid jobs`; the worker's own thread beats as `host:pid`)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT worker, beats FROM worker_heartbeats"))
            return [(row[0].removesuffix(JOBS), row[1]) for row in rows if row[0].endswith(JOBS)]
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_two_web_processes_a_worker_and_a_scheduler_on_postgres_and_redis(tmp_path):
    require_postgres()
    require_redis()
    database = unique_database_name("mechmooc_topology")
    database_url = fresh_postgres_database(database)
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

        # The check the compose file runs in the worker and scheduler containers.
        health = webs[0].cli("health")
        assert health.returncode == 0, health.stdout + health.stderr

        # Both web processes see the same worker through the shared database.
        for web in webs:
            report = web.get("/healthz").json()
            assert report["status"] == "ok" and report["worker"]["age_seconds"] is not None, report
    finally:
        for web in webs:
            web.stop()
        codes = {"scheduler": scheduler.stop(), "worker": worker.stop()}
        drop_postgres_database(database)
    assert codes == {"scheduler": 0, "worker": 0}, codes
    assert not any(web.leftovers for web in webs)


ROOT = Path(__file__).resolve().parents[2]


def test_compose_runs_the_commands_and_settings_this_code_knows():
    """docker-compose.yml cannot run here; check what it asks of the image against the real CLI and settings."""
    import yaml
    from click.testing import CliRunner

    from server.floor.settings import KNOWN, PREFIX
    from server.roof.cli import main

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "scheduler", "mailpit"} <= set(services)
    ours = {name: service for name, service in services.items() if service.get("build")}
    assert set(ours) == {"migrate", "web", "worker", "scheduler"}
    runner = CliRunner()
    for name, service in ours.items():
        command = service["command"]
        assert command[0] == "mechmooc", name
        subcommand = [part for part in command[1:] if not part.startswith("-")][:2]
        words = subcommand if subcommand[0] == "db" else subcommand[:1]
        assert runner.invoke(main, [*words, "--help"]).exit_code == 0, (name, command)
        unknown = {key for key in service["environment"] if key.startswith(PREFIX) and key[len(PREFIX) :] not in KNOWN}
        assert not unknown, (name, unknown)
        if name != "migrate":
            assert service["healthcheck"]["test"], name
    assert "--no-worker" in services["web"]["command"]  # the workers are their own services
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "replicas" in services["web"]["deploy"]
    assert services["web"]["environment"]["MECHMOOC_SMTP_URL"].endswith("smtp://mailpit:1025}")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "\nUSER mechmooc" in dockerfile  # not root


def test_ci_runs_the_readme_test_command():
    """`.ci/run` must run the README's second Quickstart command, whatever it says."""
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = [block.split("\n", 1)[1].strip() for block in quickstart.split("```")[1::2]]
    assert len(commands) == 2 and commands[0].startswith("pip install") and "mechmooc serve" in commands[0]
    script = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in script and "README.md" in script
    extracted = subprocess.run(
        ["bash", "-c", script.split("test_command=$(", 1)[1].split(")\n", 1)[0]],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert extracted.stdout.strip() == commands[1]
