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
from types import FrameType
from typing import Any

import uvicorn

from server.floor.db import session_scope
from server.floor.errors import MechMoocError, SettingsError
from server.floor.settings import Settings, load_settings
from server.roof.bootstrap import boot

log = logging.getLogger("mechmooc.serve")
CHILD_STOP_TIMEOUT = 60.0
# The children are started as `mechmooc <command>` with this interpreter, the entry point's own code.
CLI = [sys.executable, "-c", "from server.roof.cli import main; main()"]


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


def _die_with_parent() -> None:
    # A child whose `serve` is killed outright gets SIGTERM (Celery's warm shutdown) instead of living on.
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def child_environment(settings: Settings) -> dict[str, str]:
    """The children's environment: the same instance (URL, data dir) as this process."""
    env = dict(os.environ)
    env["MECHMOOC_URL"] = settings.url
    env["MECHMOOC_DATA_DIR"] = str(settings.data_dir)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class Children:
    """`mechmooc worker` and `mechmooc scheduler` as child processes, restarted if one dies."""

    COMMANDS = ("worker", "scheduler")
    WATCH_EVERY = 2.0
    # A child that dies this soon after starting is not restarted at once (no tight crash loop).
    RESTART_AFTER = 10.0

    def __init__(self, settings: Settings) -> None:
        self.env = child_environment(settings)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.started_at: dict[str, float] = {}
        self.stopping = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="children-watcher", daemon=True)

    def _spawn(self, command: str) -> None:
        # A session of their own: a terminal's Ctrl-C reaches `serve` alone, which stops them in order.
        self.processes[command] = subprocess.Popen(
            [*CLI, command], env=self.env, start_new_session=True, preexec_fn=_die_with_parent
        )
        self.started_at[command] = time.monotonic()

    def start(self) -> None:
        """Start every child and the thread that restarts them."""
        for command in self.COMMANDS:
            self._spawn(command)
        self.watcher.start()

    def _watch(self) -> None:
        while not self.stopping.wait(self.WATCH_EVERY):
            for command, process in list(self.processes.items()):
                code = process.poll()
                if code is None or time.monotonic() - self.started_at[command] < self.RESTART_AFTER:
                    continue
                if self.stopping.is_set():
                    return
                log.warning("the %s (pid %s) exited with %s; starting it again", command, process.pid, code)
                self._spawn(command)

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
    log.info("receiving group-list mail and bounces by SMTP on %s:%s", host, port)
    return receiver


def serve(host: str, port: int, worker: bool = True, demo: bool = False) -> None:
    """Run the instance until SIGTERM/SIGINT: migrate, keys, optional demo, web app and children."""
    from server.roof.app import create_app
    from server.roof.celery_app import install_waker, make_celery

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)
    settings = load_settings(host=host, port=port)
    sock = bind_socket(host, port)
    settings = boot(settings)
    ensure_keys()
    if demo:
        from server.roof.demo import fill_demo

        fill_demo()
    install_waker(make_celery(settings))
    stop_requested = threading.Event()

    def note_signal(signum: int, _frame: FrameType | None) -> None:
        # Before uvicorn runs this means "do not start"; after, uvicorn re-raises the signal it
        # handled, and it only means "go on stopping".
        log.info("stopping (signal %s)", signal.Signals(signum).name)
        stop_requested.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, note_signal)
    receiver = start_inbound_smtp(settings)
    children = Children(settings)
    if worker and settings.embedded_broker:
        children.start()
    config = uvicorn.Config(
        create_app(settings),
        log_level="info",
        timeout_graceful_shutdown=30,
        server_header=False,
        # X-Forwarded-For is read by the app, from MECHMOOC_TRUSTED_PROXIES only (web.proxies);
        # uvicorn's own handling would believe it from FORWARDED_ALLOW_IPS (127.0.0.1 by default).
        proxy_headers=False,
    )
    log.info("serving %s on http://%s:%s (data in %s)", settings.url, host, port, settings.data_dir)
    try:
        if not stop_requested.is_set():
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        children.stop()
        if receiver is not None:
            receiver.stop()
        sock.close()
