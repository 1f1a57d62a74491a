"""`mechmooc serve`: the whole instance in one command — web app, worker and scheduler.

The parent process serves HTTP with uvicorn; unless a broker is configured (production runs
`mechmooc worker` and `mechmooc scheduler` on their own) it starts those very commands as child
processes on the embedded transport. On SIGTERM/SIGINT it stops accepting, finishes the requests
in flight, then asks the children to finish their tasks and waits for them.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from types import FrameType
from typing import Any

import uvicorn

from server.floor.config import use_settings
from server.floor.db import session_scope
from server.floor.errors import MechMoocError, SettingsError
from server.floor.settings import Settings, load_settings, remember_url
from server.roof import console
from server.roof.bootstrap import boot

log = logging.getLogger("mechmooc.serve")
CHILD_STOP_TIMEOUT = 60.0
# The children are started as `mechmooc <command>` with this interpreter, the entry point's own code.
CLI = [sys.executable, "-c", "from server.roof.cli import main; main()"]
# `serve --demo` receives group mail here unless MECHMOOC_INBOUND_SMTP says where (a free port if taken).
DEMO_INBOUND = ("127.0.0.1", 2525)


class PortBusy(MechMoocError):
    """The address `serve` should listen on is taken or not ours."""


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the listening address now, so a busy port is a one-line error before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortBusy(
                f"port {port} on {host} is busy (another server listens there); choose another with --port"
            ) from None
        raise PortBusy(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.set_inheritable(False)
    return sock


def ensure_keys() -> None:
    """Create the instance actor's key pair on first start; later starts find it as it was."""
    from federation.transport.keys import ensure_instance_keys

    with session_scope() as session:
        ensure_instance_keys(session)


# Loaded once here: between fork and exec (where `_die_with_parent` runs) loading a library could deadlock.
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc Linux: orphans are then stopped by whoever stops the process group
    _LIBC = None
PR_SET_PDEATHSIG = 1


M_ARENA_MAX = -8  # glibc's <malloc.h>
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """At most MALLOC_ARENAS glibc malloc arenas in this process, unless MALLOC_ARENA_MAX says otherwise.

    glibc gives threads arenas of their own (up to 8 per core) and seldom hands their memory back; the
    web app's pages run in Starlette's thread pool, so RSS grew with the threads that ever ran a page
    (bench/web_memory.py: 158 MB after 10,000 requests, 148 MB with two arenas). Mastodon's images set
    MALLOC_ARENA_MAX=2 for Puma and Sidekiq for the same reason."""
    if _LIBC is not None and "MALLOC_ARENA_MAX" not in os.environ:
        _LIBC.mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def _die_with_parent() -> None:
    # A child whose `serve` is killed outright gets SIGTERM (Celery's warm shutdown) instead of living on.
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def child_environment(settings: Settings) -> dict[str, str]:
    """The children's environment: the same instance (URL, data dir) as this process."""
    env = dict(os.environ)
    env["MECHMOOC_URL"] = settings.url
    env["MECHMOOC_DATA_DIR"] = str(settings.data_dir)
    env["MECHMOOC_LOG_LEVEL"] = settings.log_level  # `serve --log-level` reaches them too
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class Children:
    """`mechmooc worker` and `mechmooc scheduler` as child processes, restarted if one dies.

    A child that dies within STABLE_AFTER seconds of its start crashed: each crash in a row doubles the
    wait before the next start (BACKOFF_BASE up to BACKOFF_CAP), so a child that cannot start does not
    spin every few seconds, and CRASH_LOOP crashes in a row are reported by `/healthz`.
    """

    COMMANDS = ("worker", "scheduler")
    WATCH_EVERY = 2.0
    STABLE_AFTER = 60.0
    BACKOFF_BASE = 5.0
    BACKOFF_CAP = 300.0
    CRASH_LOOP = 3

    def __init__(self, settings: Settings, commands: dict[str, list[str]] | None = None) -> None:
        self.env = child_environment(settings)
        # The command line of each child (tests start others).
        # --embedded: they print as `serve` does (console.py), without banners or a line per task.
        self.argv = commands or {command: [*CLI, command, "--embedded"] for command in self.COMMANDS}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.started_at: dict[str, float] = {}
        self.crashes: dict[str, int] = {}
        self.restarts: dict[str, int] = {}
        self.last_exit: dict[str, int | None] = {}
        self.next_start: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="children-watcher", daemon=True)

    def _spawn(self, command: str) -> None:
        # A session of their own: a terminal's Ctrl-C reaches `serve` alone, which stops them in order.
        self.processes[command] = subprocess.Popen(
            self.argv[command], env=self.env, start_new_session=True, preexec_fn=_die_with_parent
        )
        self.started_at[command] = time.monotonic()
        self.next_start.pop(command, None)

    def start(self) -> None:
        """Start every child and the thread that restarts them."""
        for command in self.argv:
            self._spawn(command)
        self.watcher.start()

    def backoff(self, crashes: int) -> float:
        """Seconds to wait before starting a child again after `crashes` crashes in a row (0: it ran a while)."""
        if crashes <= 0:
            return 0.0
        return float(min(self.BACKOFF_CAP, self.BACKOFF_BASE * 2 ** (crashes - 1)))

    def _exited(self, command: str, code: int) -> None:
        """Note that a child exited: a crash when it died young, and when to start it again."""
        lived = time.monotonic() - self.started_at[command]
        with self.lock:
            self.crashes[command] = self.crashes.get(command, 0) + 1 if lived < self.STABLE_AFTER else 0
            self.last_exit[command] = code
            crashes = self.crashes[command]
            self.next_start[command] = time.monotonic() + self.backoff(crashes)
        wait = self.backoff(crashes)
        if crashes >= self.CRASH_LOOP:
            log.error(
                "the %s (pid %s) exited with %s, %d times in a row within %.0f s of starting: "
                "a crash loop; starting it again in %.0f s",
                command,
                self.processes[command].pid,
                code,
                crashes,
                self.STABLE_AFTER,
                wait,
            )
        else:
            log.warning(
                "the %s (pid %s) exited with %s; starting it again in %.0f s",
                command,
                self.processes[command].pid,
                code,
                wait,
            )

    def _watch(self) -> None:
        while not self.stopping.wait(self.WATCH_EVERY):
            for command, process in list(self.processes.items()):
                code = process.poll()
                if code is None:
                    if self.crashes.get(command) and time.monotonic() - self.started_at[command] >= self.STABLE_AFTER:
                        with self.lock:
                            self.crashes[command] = 0  # it came up and stayed: the loop is over
                    continue
                if command not in self.next_start:
                    self._exited(command, code)
                if time.monotonic() < self.next_start[command] or self.stopping.is_set():
                    continue
                with self.lock:
                    self.restarts[command] = self.restarts.get(command, 0) + 1
                    self._spawn(command)

    def report(self) -> dict[str, dict[str, Any]]:
        """Each child's state for `/healthz`: running, pid, restarts, crashes in a row, last exit, next start."""
        moment = time.monotonic()
        with self.lock:
            return {
                command: {
                    "running": process.poll() is None,
                    "pid": process.pid,
                    "restarts": self.restarts.get(command, 0),
                    "crashes_in_a_row": self.crashes.get(command, 0),
                    "crash_loop": self.crashes.get(command, 0) >= self.CRASH_LOOP,
                    "last_exit": self.last_exit.get(command),
                    "next_start_in": (
                        round(max(0.0, self.next_start[command] - moment), 1) if command in self.next_start else None
                    ),
                }
                for command, process in self.processes.items()
            }

    def stop(self, timeout: float = CHILD_STOP_TIMEOUT) -> None:
        """Ask each child to finish its work (SIGTERM: Celery's warm shutdown), kill it after `timeout`."""
        self.stopping.set()
        if self.watcher.is_alive():
            self.watcher.join()
        children = list(self.processes.values())
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("child %s did not stop within %.0f s; killing it", child.pid, timeout)
                child.kill()
                child.wait()


def start_inbound_smtp(settings: Settings) -> Any:
    """The group-list and bounce receiver on MECHMOOC_INBOUND_SMTP, when set (else None)."""
    if settings.inbound_smtp is None:
        return None
    from mail.inbound import start_receiver

    host, port = settings.inbound_smtp
    try:
        receiver = start_receiver(settings)
    except (OSError, RuntimeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise SettingsError(f"MECHMOOC_INBOUND_SMTP {host}:{port}: cannot listen: {reason}") from None
    return receiver


def start_demo_inbound(settings: Settings) -> tuple[Settings, Any]:
    """`serve --demo` receives group mail by SMTP on 127.0.0.1:2525, else (taken: by another demo, or
    between our look and our bind) on a free port; the settings say where, for the ready block and /welcome."""
    host, port = DEMO_INBOUND
    for _ in range(3):
        chosen = replace(settings, inbound_smtp=(host, port))
        try:
            return chosen, start_inbound_smtp(chosen)
        except SettingsError:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((host, 0))
                port = int(probe.getsockname()[1])
    return chosen, start_inbound_smtp(chosen)  # the third free port taken too: its one-line error


def ready_lines(settings: Settings, login_link: str | None, demo: bool) -> list[str]:
    """The block `serve` prints once it listens: where the instance is, where mail goes, what to do next."""
    lines = [f"Mechanical MOOC is ready at {settings.url}"]
    if demo:
        lines.append(f"  first steps: {settings.url}/welcome")
    if login_link:
        lines.append(f"  log in as the demo admin (this link works once, within 30 minutes): {login_link}")
    if not settings.smtp_url:
        lines.append(
            f"  mails are not sent: they go to {settings.data_dir / 'outbox'} (read them at {settings.url}/admin/mail)"
        )
    if settings.inbound_smtp is not None:
        host, port = settings.inbound_smtp
        lines.append(f"  group lists receive mail by SMTP on {host}:{port}")
    return lines


class _Server(uvicorn.Server):
    """uvicorn's server, printing the ready block once it listens (and not if it could not start)."""

    def __init__(self, config: uvicorn.Config, ready: list[str]) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start listening, then say so."""
        await super().startup(sockets=sockets)
        if not self.should_exit:
            console.announce(self.ready)


def serve(host: str, port: int, worker: bool = True, demo: bool = False, log_level: str | None = None) -> None:
    """Run the instance until SIGTERM/SIGINT: migrate, keys, optional demo, web app and children."""
    from server.roof.app import create_app
    from server.roof.celery_app import install_waker, make_celery

    limit_malloc_arenas()
    settings = load_settings(host=host, port=port)
    if log_level:
        settings = replace(settings, log_level=log_level)
    console.configure(settings.log_level)
    sock = bind_socket(host, port)
    settings = boot(settings)
    # Other commands on this data dir (`run show`, `mail send-due`) then link to this URL, not port 8000.
    remember_url(settings)
    ensure_keys()
    login_link = None
    if demo:
        from server.roof.demo import demo_login_link, fill_demo

        fill_demo()
        login_link = demo_login_link()
    install_waker(make_celery(settings))
    stop_requested = threading.Event()

    def note_signal(signum: int, _frame: FrameType | None) -> None:
        # Before uvicorn runs this means "do not start"; after, uvicorn re-raises the signal it
        # handled, and it only means "go on stopping".
        log.info("stopping (signal %s)", signal.Signals(signum).name)
        stop_requested.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, note_signal)
    if demo and settings.inbound_smtp is None:
        settings, receiver = start_demo_inbound(settings)
        use_settings(settings)  # the first-run page shows where group mail is received
    else:
        receiver = start_inbound_smtp(settings)
    children = Children(settings)
    app = create_app(settings)
    if worker and settings.embedded_broker:
        children.start()
        app.state.children = children  # /healthz reports crash loops
    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        access_log=console.access_log(settings.log_level),
        timeout_graceful_shutdown=30,
        server_header=False,
        # X-Forwarded-For is read by the app, from MECHMOOC_TRUSTED_PROXIES only (web.proxies);
        # uvicorn's own handling would believe it from FORWARDED_ALLOW_IPS (127.0.0.1 by default).
        proxy_headers=False,
    )
    console.after_uvicorn_config(settings.log_level)
    try:
        if not stop_requested.is_set():
            _Server(config, ready_lines(settings, login_link, demo)).run(sockets=[sock])
    finally:
        children.stop()
        if receiver is not None:
            receiver.stop()
        sock.close()
        log.info("Mechanical MOOC stopped")
