"""Fault drills for the mail outbox, on this machine, loopback only, bounded in time.

    python bench/drills.py [--mails 1000] [--connections 4] [--down 20] [--timeout 240] [--postgres]
                           [--no-pipelining]

Each drill queues `--mails` mails to a recording SMTP sink on 127.0.0.1, breaks something in the middle
of sending, touches nothing afterwards, and counts what arrived:

- two concurrent send passes: two `mechmooc mail send-due` processes started together on the same mails;
- kill -9 of the worker mid-send: `mechmooc serve` (embedded worker and scheduler) sends; once 30 % have
  arrived its worker process is killed with SIGKILL (serve starts another);
- SMTP sink down: the sink stops accepting once 30 % have arrived, for `--down` seconds, then comes back.

The table: fault, mails, sent (rows recorded as sent), received (messages the sink accepted, copies
included), duplicated (copies beyond the first of a Message-ID), lost (mails that never arrived),
stuck (rows not recorded as sent at the end), recovery (from the end of the fault until every mail was
recorded as sent; "-" when nothing needed recovering, "never" when the drill timed out).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from mail.addresses import new_token  # noqa: E402
from mail.mime import compose  # noqa: E402
from mail.models import OutgoingMail  # noqa: E402
from mail.outbox import base_headers, enqueue_many, mail_row  # noqa: E402
from server.floor.db import get_engine, session_scope  # noqa: E402
from server.floor.queue import DONE  # noqa: E402
from server.floor.settings import load_settings  # noqa: E402
from server.roof.bootstrap import boot  # noqa: E402

CLI = [sys.executable, "-c", "from server.roof.cli import main; main()"]
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Sink:
    """An aiosmtpd server on 127.0.0.1 that keeps the Message-ID of every message it accepts; it can
    stop and start again on the same port (an SMTP outage). It offers PIPELINING, as most servers do
    (`--no-pipelining`: the sender says one command at a time)."""

    def __init__(self, delay: float, pipelining: bool = True) -> None:
        self.port = free_port()
        self.delay = delay
        self.pipelining = pipelining
        self.received: list[bytes] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's name
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING", responses[-1]] if self.pipelining else responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        await asyncio.sleep(self.delay)
        found = MESSAGE_ID.search(envelope.content.split(b"\r\n\r\n", 1)[0])
        with self.lock:
            self.received.append(found.group(1) if found else b"")
        return "250 OK queued"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def ids(self) -> list[bytes]:
        with self.lock:
            return list(self.received)


@dataclass
class Result:
    """One line of the table."""

    fault: str
    mails: int
    sent: int
    received: int
    duplicated: int
    lost: int
    stuck: int
    recovery: str


def queue_mails(prefix: str, count: int) -> set[bytes]:
    """`count` one-line mails to distinct addresses, due now; their Message-IDs."""
    rows = []
    for index in range(count):
        token, to = new_token(), f"drill{index}@example.org"
        message = compose(base_headers(to, f"Drill {prefix} {index}", token), f"Mail {index} of the {prefix} drill.")
        rows.append(
            mail_row(key=f"drill:{prefix}:{index}", kind="system", to=to, token=token, subject="drill", message=message)
        )
    with session_scope() as session:
        enqueue_many(session, rows)
    with session_scope() as session:
        ids = session.scalars(select(OutgoingMail.message_id).where(OutgoingMail.key.like(f"drill:{prefix}:%")))
        return {str(mail_id).encode() for mail_id in ids}


def sent_count(prefix: str) -> int:
    """How many of the drill's rows are recorded as sent."""
    with session_scope() as session:
        query = select(func.count()).where(OutgoingMail.key.like(f"drill:{prefix}:%"), OutgoingMail.state == DONE)
        return int(session.scalar(query) or 0)


def wait_until(condition: Callable[[], bool], timeout: float, every: float = 0.02) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def measure(fault: str, prefix: str, ids: set[bytes], sink: Sink, recovery: str) -> Result:
    """Count what the drill's mails became."""
    counts = Counter(mail_id for mail_id in sink.ids() if mail_id in ids)
    sent = sent_count(prefix)
    return Result(
        fault=fault,
        mails=len(ids),
        sent=sent,
        received=sum(counts.values()),
        duplicated=sum(n - 1 for n in counts.values()),
        lost=len(ids - set(counts)),
        stuck=len(ids) - sent,
        recovery=recovery,
    )


def recovered(prefix: str, count: int, since: float, timeout: float) -> str:
    """Wait until every mail of the drill is recorded as sent; the seconds since `since`, or "never"."""
    if wait_until(lambda: sent_count(prefix) >= count, timeout, every=0.25):
        return f"{time.monotonic() - since:.1f} s"
    return "never"


def concurrent_passes(env: dict[str, str], sink: Sink, count: int, timeout: float) -> Result:
    """Two `mechmooc mail send-due` processes on the same mails at the same moment."""
    ids = queue_mails("concurrent", count)
    passes = [subprocess.Popen([*CLI, "mail", "send-due"], env=env, stdout=subprocess.DEVNULL) for _ in range(2)]
    for process in passes:
        process.wait(timeout)
    wait_until(lambda: sent_count("concurrent") >= count, 5)
    return measure("two concurrent send passes", "concurrent", ids, sink, "-")


class Serve:
    """`mechmooc serve` with its embedded worker and scheduler, in a process group of its own."""

    def __init__(self, env: dict[str, str], root: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = (root / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=root,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_beating(self, timeout: float) -> None:
        """Until /healthz hears the worker."""

        def beating() -> bool:
            try:
                report = httpx.get(self.url + "/healthz", timeout=2).json()
            except (httpx.HTTPError, ValueError):
                return False
            return bool(report["worker"]["ok"] and report["worker"]["age_seconds"] is not None)

        if not wait_until(beating, timeout, every=0.5):
            tail = Path(self.log.name).read_text(errors="replace").splitlines()[-30:]
            raise SystemExit("serve's worker never beat:\n" + "\n".join(tail))

    def worker_pid(self) -> int | None:
        """The `mechmooc worker` child of serve, if one runs."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == self.process.pid and b"worker" in argv:
                return int(entry.name)
        return None

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL after 60 s."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
        self.log.close()


def started_sending(sink: Sink, ids: set[bytes], share: float, timeout: float) -> bool:
    """Wait until `share` of the drill's mails arrived."""
    return wait_until(lambda: len(ids.intersection(sink.ids())) >= share * len(ids), timeout, every=0.005)


def killed_worker(serve: Serve, sink: Sink, count: int, timeout: float) -> Result:
    """kill -9 of the worker once 30 % of the mails arrived."""
    ids = queue_mails("kill", count)
    if not started_sending(sink, ids, 0.3, timeout):
        return measure("kill -9 of the worker mid-send", "kill", ids, sink, "never started")
    pid = serve.worker_pid()
    if pid is None:
        raise SystemExit("no worker process under serve")
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    return measure("kill -9 of the worker mid-send", "kill", ids, sink, recovered("kill", count, killed, timeout))


def smtp_outage(sink: Sink, count: int, down: float, timeout: float) -> Result:
    """The SMTP server away for `down` seconds once 30 % of the mails arrived."""
    ids = queue_mails("outage", count)
    fault = f"SMTP sink down {down:.0f} s"
    if not started_sending(sink, ids, 0.3, timeout):
        return measure(fault, "outage", ids, sink, "never started")
    sink.stop()
    time.sleep(down)
    sink.start()
    back = time.monotonic()
    return measure(fault, "outage", ids, sink, recovered("outage", count, back, timeout))


def table(results: list[Result]) -> str:
    """The results as a plain table."""
    header = ("fault", "mails", "sent", "received", "duplicated", "lost", "stuck", "recovery")
    rows = [
        header,
        *((r.fault, r.mails, r.sent, r.received, r.duplicated, r.lost, r.stuck, r.recovery) for r in results),
    ]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(cell).ljust(widths[i]) if i == 0 else str(cell).rjust(widths[i]) for i, cell in enumerate(row))
        for row in rows
    )


def postgres_database() -> tuple[str, Callable[[], None]]:
    """A fresh database on MECHMOOC_TEST_POSTGRES for the drills, and how to drop it."""
    base = os.environ.get("MECHMOOC_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"mechmooc_drills_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        get_engine().dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.rsplit("/", 1)[0] + "/" + name, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=1000, help="mails per drill")
    parser.add_argument("--connections", type=int, default=4, help="MECHMOOC_SMTP_CONNECTIONS")
    parser.add_argument("--down", type=float, default=20.0, help="seconds the SMTP sink is away")
    parser.add_argument("--delay", type=float, default=0.002, help="seconds the sink takes for each message")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds a drill may take to recover")
    parser.add_argument("--postgres", action="store_true", help="use MECHMOOC_TEST_POSTGRES (default: SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and serve's log afterwards")
    parser.add_argument(
        "--no-pipelining", dest="pipelining", action="store_false", help="the sink offers no PIPELINING"
    )
    parser.add_argument("--only", default="concurrent,kill,outage", help="which drills, comma-separated")
    args = parser.parse_args()
    sink = Sink(args.delay, args.pipelining)
    sink.start()
    drop: Callable[[], None] = lambda: None  # noqa: E731
    root, port = Path(tempfile.mkdtemp(prefix="mechmooc-drills-")), free_port()
    if args.keep:
        print(f"data dir and serve.log in {root}")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MECHMOOC_")}
        env.update(
            MECHMOOC_DATA_DIR=str(root / "data"),
            MECHMOOC_URL=f"http://127.0.0.1:{port}",
            MECHMOOC_INSECURE_HTTP="1",
            MECHMOOC_SMTP_URL=f"smtp://127.0.0.1:{sink.port}",
            MECHMOOC_SMTP_CONNECTIONS=str(args.connections),
            PYTHONUNBUFFERED="1",
        )
        if args.postgres:
            env["MECHMOOC_DATABASE_URL"], drop = postgres_database()
        settings = boot(load_settings(environ={k: v for k, v in env.items() if k.startswith("MECHMOOC_")}))
        env["MECHMOOC_SECRET_KEY"] = settings.secret_key
        backend = "PostgreSQL" if args.postgres else "SQLite"
        print(
            f"{args.mails} mails a drill, {backend}, {args.connections} SMTP connections, sink on 127.0.0.1:{sink.port}"
        )
        only = set(args.only.split(","))
        results = [concurrent_passes(env, sink, args.mails, args.timeout)] if "concurrent" in only else []
        serve = Serve(env, root, port)
        try:
            serve.wait_beating(120)
            if "kill" in only:
                results.append(killed_worker(serve, sink, args.mails, args.timeout))
            if "outage" in only:
                results.append(smtp_outage(sink, args.mails, args.down, args.timeout))
        finally:
            serve.stop()
            sink.stop()
            get_engine().dispose()
            drop()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(table(results))


if __name__ == "__main__":
    main()
