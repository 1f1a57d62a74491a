"""`mechmooc db upgrade` and `mechmooc user create` as scripts use them: real subprocesses, both backends."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from tests.support.instances import (
    base_environment,
    drop_postgres_database,
    fresh_postgres_database,
    mechmooc_command,
    unique_database_name,
)


def _runner(tmp_path: Path, env: dict[str, str]):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*mechmooc_command(), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    run.env = env  # type: ignore[attr-defined]
    return run


@pytest.fixture
def mechmooc(tmp_path: Path, backend: str):
    """Run `mechmooc ARGS` on a fresh instance of the given backend."""
    env = base_environment({"MECHMOOC_DATA_DIR": str(tmp_path / "data")})
    database = unique_database_name("mechmooc_cli")
    if backend == "postgres":
        env["MECHMOOC_DATABASE_URL"] = fresh_postgres_database(database)
    yield _runner(tmp_path, env)
    if backend == "postgres":
        drop_postgres_database(database)


@pytest.fixture
def mechmooc_sqlite(tmp_path: Path):
    """Run `mechmooc ARGS` on a fresh SQLite instance (input checks do not depend on the backend)."""
    return _runner(tmp_path, base_environment({"MECHMOOC_DATA_DIR": str(tmp_path / "data")}))


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_db_upgrade_creates_every_branch_and_is_idempotent(mechmooc):
    first = mechmooc("db", "upgrade")
    assert first.returncode == 0, first.stderr
    url = mechmooc.env.get("MECHMOOC_DATABASE_URL") or f"sqlite:///{mechmooc.env['MECHMOOC_DATA_DIR']}/mechmooc.sqlite3"
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"accounts", "courses", "worker_heartbeats", "alembic_version"} <= tables
    again = mechmooc("db", "upgrade")
    assert again.returncode == 0 and "up to date" in again.stdout


def test_user_create_prints_the_id_last_and_refuses_duplicates(mechmooc):
    admin = mechmooc("user", "create", "ada@example.org", "--password", "analytical", "--role", "admin")
    assert admin.returncode == 0, admin.stderr
    first_id = int(admin.stdout.strip().splitlines()[-1])
    organizer = mechmooc("user", "create", "grace@example.org", "--handle", "amazing_grace", "--json")
    data = json.loads(organizer.stdout)
    assert data["handle"] == "amazing_grace" and data["role"] == "organizer" and data["id"] > first_id
    assert "exists already" in one_line_error(mechmooc("user", "create", "ada@example.org"))
    assert "handle ada is taken" in one_line_error(mechmooc("user", "create", "ada@elsewhere.org"))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["user", "create", "not-an-address"], "email 'not-an-address'"),
        (["user", "create", "bob@example.org", "--password", "short"], "password"),
        (["user", "create", "bob@example.org", "--handle", "Bob Smith!"], "handle 'Bob Smith!'"),
        (["user", "create", "bob@example.org", "--role", "boss"], "--role"),
        (["user", "create"], "EMAIL"),
        (["serve", "--port", "99999"], "--port"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(mechmooc_sqlite, args, fragment):
    assert fragment in one_line_error(mechmooc_sqlite(*args))


def test_health_fails_while_no_worker_has_beaten(mechmooc_sqlite):
    assert mechmooc_sqlite("db", "upgrade").returncode == 0
    result = mechmooc_sqlite("health", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["status"] == "unhealthy" and report["database"]["ok"] and not report["worker"]["ok"]


def test_registrations_mode_and_invites_from_the_command_line(mechmooc_sqlite) -> None:  # type: ignore[no-untyped-def]
    assert mechmooc_sqlite("user", "registrations").stdout.strip() == "registrations: closed"
    assert mechmooc_sqlite("user", "registrations", "approval").stdout.strip() == "registrations: approval"
    assert mechmooc_sqlite("user", "registrations", "everyone").returncode != 0
    made = mechmooc_sqlite("user", "invite", "--uses", "3", "--days", "2")
    assert made.returncode == 0 and "/invite/" in made.stdout.strip().splitlines()[-1], made.stderr
