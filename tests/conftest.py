"""Shared fixtures: a booted instance on a fresh database (SQLite, and PostgreSQL in CI), sessions."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from server.floor.db import Base, get_engine, session_factory
from server.floor.settings import Settings, load_settings
from server.roof.bootstrap import boot
from tests.support.backends import PG_URL, require_postgres

# No test asserts timing: Hypothesis's default 200 ms deadline per example failed a pure date test
# on a loaded CI machine (an example that took longer is no bug). Examples still run as before.
hypothesis_settings.register_profile("mechmooc", deadline=None)
hypothesis_settings.load_profile("mechmooc")

FIXTURES = Path(__file__).parent / "fixtures"
_sqlite_template: dict[str, Path] = {}


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


_created_databases: set[str] = set()


def _postgres_url() -> str:
    """A database of this test process's own (worker and pid: concurrent runs share the server)."""
    name = f"mechmooc_test_{_worker()}_{os.getpid()}"
    _created_databases.add(name)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def make_settings(tmp_path: Path, backend: str = "sqlite", **overrides: str) -> Settings:
    """Settings for an in-process test instance in `tmp_path`."""
    environ = {
        "MECHMOOC_DATA_DIR": str(tmp_path / "data"),
        "MECHMOOC_URL": "http://testserver.localhost",
        "MECHMOOC_INSECURE_HTTP": "1",
        "MECHMOOC_SECRET_KEY": "test-secret",
        "MECHMOOC_MAIL_DOMAIN": "lists.example.org",
    }
    if backend == "postgres":
        environ["MECHMOOC_DATABASE_URL"] = _postgres_url()
    environ.update({f"MECHMOOC_{k.upper()}": v for k, v in overrides.items()})
    return load_settings(environ=environ)


def _fresh_sqlite(settings: Settings) -> None:
    """Copy a migrated template database instead of migrating every test again."""
    key = _worker()
    target = settings.data_dir / "mechmooc.sqlite3"
    target.parent.mkdir(parents=True, exist_ok=True)
    if key not in _sqlite_template:
        boot(settings)
        get_engine().dispose()
        template = target.parent.parent / "template.sqlite3"
        shutil.copy(target, template)
        _sqlite_template[key] = template
    else:
        shutil.copy(_sqlite_template[key], target)


def _truncate_postgres() -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with get_engine().begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Each database test runs on SQLite and on PostgreSQL (the latter required in CI)."""
    if request.param == "postgres":
        require_postgres()
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path, backend: str) -> Iterator[Settings]:
    """A booted instance (migrated database, wired packages) on a fresh database."""
    config = make_settings(tmp_path, backend)
    if backend == "sqlite":
        _fresh_sqlite(config)
        yield boot(config, migrate=False)
    else:
        booted = boot(config)
        _truncate_postgres()
        yield booted
    get_engine().dispose()


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    """A session on the test instance's database, closed after the test."""
    db = session_factory()()
    try:
        yield db
    finally:
        db.rollback()
        db.close()


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Iterator[Settings]:
    """A booted instance on SQLite only (for tests that are about something else than the database)."""
    config = make_settings(tmp_path, "sqlite")
    _fresh_sqlite(config)
    yield boot(config, migrate=False)
    get_engine().dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the PostgreSQL databases this process created."""
    if not _created_databases:
        return
    get_engine().dispose()
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in _created_databases:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
