"""Real `mechmooc serve` processes for integration tests: one data dir, env and port each.

    def test_two_instances(instance_factory):
        alpha = instance_factory()                        # started and ready
        beta = instance_factory(env={"MECHMOOC_SMTP_URL": "smtp://127.0.0.1:2525"}, worker=False)
        assert beta.cli("user", "create", "ada@example.org").returncode == 0
        httpx.get(alpha.url + "/.well-known/nodeinfo")

or, outside pytest, `with Instance(tmp_path / "alpha") as alpha: ...`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.support.backends import PG_URL

READY_PATH = "/.well-known/nodeinfo"
STOP_TIMEOUT = 45.0


def mechmooc_command() -> list[str]:
    """The installed `mechmooc` entry point of this interpreter (or the same code through `-c`)."""
    script = Path(sys.executable).with_name("mechmooc")
    if script.is_file():
        return [str(script)]
    found = shutil.which("mechmooc")
    return [found] if found else [sys.executable, "-c", "from server.roof.cli import main; main()"]


def ok(done: subprocess.CompletedProcess[str]) -> str:
    """The last line of a successful CLI run (the id it printed); fails the test otherwise."""
    assert done.returncode == 0, done.stderr + done.stdout
    return str(done.stdout.strip().splitlines()[-1])


def query(instance: Instance, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows from a running instance's SQLite database (WAL lets a reader in while it runs)."""
    connection = sqlite3.connect(instance.data_dir / "mechmooc.sqlite3", timeout=30)
    try:
        return list(connection.execute(sql, args))
    finally:
        connection.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_postgres_database(name: str) -> str:
    """Drop and create the PostgreSQL database `name` on the test server; return its URL."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def drop_postgres_database(name: str) -> None:
    """Drop the PostgreSQL database `name` (a test's own), even with connections left open."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def unique_database_name(prefix: str) -> str:
    """A database name no other test process uses at the same time (xdist worker and pid)."""
    return f"{prefix}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


def base_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any MECHMOOC_* variable (a test says what it wants)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MECHMOOC_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


class Instance:
    """A `mechmooc serve` subprocess on 127.0.0.1 with its own data dir (`with` starts and stops it)."""

    def __init__(
        self,
        root: Path,
        env: dict[str, str] | None = None,
        database_url: str | None = None,
        broker_url: str | None = None,
        worker: bool = True,
        demo: bool = False,
        args: Sequence[str] = (),
        port: int | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.root / "data"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = base_environment(
            {
                "MECHMOOC_URL": self.url,
                "MECHMOOC_DATA_DIR": str(self.data_dir),
                "MECHMOOC_INSECURE_HTTP": "1",
            }
        )
        if database_url:
            self.env["MECHMOOC_DATABASE_URL"] = database_url
        if broker_url:
            self.env["MECHMOOC_BROKER_URL"] = broker_url
        self.env.update(env or {})
        self.serve_args = [*(["--no-worker"] if not worker else []), *(["--demo"] if demo else []), *args]
        self.ready_timeout = ready_timeout
        self.log_path = self.root / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.leftovers = False

    @property
    def host(self) -> str:
        """`127.0.0.1:PORT`, the WebFinger domain of this instance."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Instance:
        """Start `mechmooc serve` and wait until `GET /.well-known/nodeinfo` answers 200 (the contract's "ready")."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*mechmooc_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.serve_args],
                env=self.env,
                cwd=self.root,  # so a developer's .env in the repository is not read
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() can reap the children too
            )
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Poll READY_PATH until it answers 200; fail with the log if serve exits or times out."""
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mechmooc serve exited with {self.process.returncode}:\n{self.logs()}")
            try:
                if httpx.get(self.url + READY_PATH, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"mechmooc serve was not ready after {self.ready_timeout:.0f} s:\n{self.logs()}")

    def cli(
        self, *args: str, input: str | None = None, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `mechmooc ARGS` against this instance's data dir and env; never raises on failure."""
        return subprocess.run(
            [*mechmooc_command(), *args],
            env={**self.env, **(env or {})},
            cwd=self.root,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET `path` on this instance."""
        return httpx.get(self.url + path, timeout=kwargs.pop("timeout", 10), **kwargs)

    def logs(self) -> str:
        """Everything `serve` and its worker and scheduler printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def children(self) -> list[int]:
        """Process ids of the serve process's children (its worker and scheduler), Linux only."""
        if self.process is None:
            return []
        pids: list[int] = []
        # Each thread has its own list: `serve` restarts a dead child from a watcher thread.
        for path in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            try:
                pids += [int(pid) for pid in path.read_text().split()]
            except OSError:
                continue
        return pids

    @property
    def running(self) -> bool:
        """True while the serve process lives."""
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int | None:
        """Signal `serve` (SIGTERM), wait, kill its whole group after `timeout`; return its exit code."""
        children = self.children()
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
        # A child that outlived serve (worker, scheduler) is a bug: note it, then reap it.
        for pid in children:
            if _alive(pid):
                self.leftovers = True
                os.kill(pid, signal.SIGKILL)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return code

    def __enter__(self) -> Instance:
        return self.start() if self.process is None else self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class Command:
    """A long-running `mechmooc ARGS` subprocess (worker, scheduler) logging to a file; `stop()` ends it."""

    def __init__(self, args: Sequence[str], env: dict[str, str], root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.log_path = root / f"{args[0]}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*mechmooc_command(), *args],
                env=env,
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        """The process id of the command."""
        return self.process.pid

    def logs(self) -> str:
        """What the command printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM (Celery's warm shutdown), then kill the whole group after `timeout`."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # pool processes, if any outlived it
        except ProcessLookupError:
            pass
        return code


InstanceFactory = Callable[..., Instance]


@pytest.fixture
def instance_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstanceFactory]:
    """Start `Instance`s (same keyword arguments, `start=False` to start later); all stop after the test."""
    started: list[Instance] = []

    def make(name: str = "instance", start: bool = True, **kwargs: Any) -> Instance:
        instance = Instance(tmp_path_factory.mktemp(name), **kwargs)
        started.append(instance)
        return instance.start() if start else instance

    yield make
    for instance in started:
        instance.stop()
