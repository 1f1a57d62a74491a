"""Benchmark: N personalised course mails through the whole pipeline vs a plain aiosmtplib blast.

    python bench/mail.py [--learners 20000] [--connections 4] [--sink fast|aiosmtpd] [--dkim] [--postgres]
                         [--repeat 3] [--no-overlap]

The pipeline is what the workers do. The scheduler's tick renders each learner's unit (sandboxed
Jinja2, Markdown, inlined CSS) into the outbox five minutes before it is due (mail.scheduler's
LOOKAHEAD is ten); at the due instant the sender leases, marks each round in flight, sends over
reused SMTP connections and records each answer. The baseline sends the very same message bytes
with aiosmtplib over the same number of connections, recording nothing. Both go to the same sink,
running in its own process, in the same run. Prints mails/s and three ratios to the blast: sending at
the due instant (what the target is about: how fast the mails leave), rendering plus sending end to
end (as if nothing had been rendered ahead), and both jobs at once with nothing rendered ahead (the
scheduler in a second process while the sender sends what it committed: a worker with two processes);
then CPU per mail and the ratios in CPU time (this process, the scheduler's and the sink; not
PostgreSQL's server), steadier than the wall clock on a shared machine. `--no-overlap` skips the third.
Last, the memory of a worker: a fresh process (spawned, so nothing of this one's) boots as a worker
does, runs the scheduler's and the sender's jobs (`mail.schedule`, `mail.send`) for every learner with
nothing rendered ahead, and prints its RSS after sending and its peak, from /proc (`--no-rss` skips it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiosmtplib  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from courses.folder import import_course  # noqa: E402
from courses.models import Enrollment, Run, StudyGroup  # noqa: E402
from courses.versions import publish  # noqa: E402
from mail.models import OutgoingMail  # noqa: E402
from mail.scheduler import schedule_all_due, start_many  # noqa: E402
from mail.sender import envelope, send_all  # noqa: E402
from server.floor.clock import frozen  # noqa: E402
from server.floor.db import session_factory, session_scope  # noqa: E402
from server.floor.settings import load_settings  # noqa: E402
from server.roof.bootstrap import boot  # noqa: E402

DUE = datetime(2026, 3, 2, 9, tzinfo=UTC)  # every learner's unit 0, in the bench
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "America/Los_Angeles", "Australia/Sydney"]
COURSE = ROOT / "tests" / "fixtures" / "courses" / "gentle-python"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sink(kind: str, port: int, pipelining: bool = True) -> subprocess.Popen[bytes]:
    """The sink in its own process: the fast minimal one (offering PIPELINING unless told not to), or aiosmtpd."""
    if kind == "fast":
        command = [sys.executable, "-m", "bench.smtp_sink", str(port), *([] if pipelining else ["--no-pipelining"])]
    else:
        command = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            import socket

            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the SMTP sink did not start")


def populate(session, learners: int) -> None:  # type: ignore[no-untyped-def]
    """A run of gentle-python with `learners` confirmed learners in groups of 20, cursors started."""
    course = import_course(session, COURSE)
    session.flush()
    publish(session, course)
    run = Run(handle="bench-run", course_id=course.id, version_number=1, start_date=date(2026, 3, 2))
    session.add(run)
    session.flush()
    groups = [{"run_id": run.id, "number": n + 1, "handle": f"bench-g{n + 1}"} for n in range((learners + 19) // 20)]
    session.execute(insert(StudyGroup), groups)
    group_ids = list(
        session.scalars(select(StudyGroup.id).where(StudyGroup.run_id == run.id).order_by(StudyGroup.number))
    )
    rows = [
        {
            "run_id": run.id,
            "email": f"learner{i}@example.org",
            "name": f"Learner {i}",
            "timezone": ZONES[i % len(ZONES)],
            "status": "confirmed",
            "group_id": group_ids[i // 20],
            "token": secrets.token_hex(16),
        }
        for i in range(learners)
    ]
    session.execute(insert(Enrollment), rows)
    ids = list(session.scalars(select(Enrollment.id).where(Enrollment.run_id == run.id)))
    start_many(session, run.id, ids, datetime(2026, 3, 1, tzinfo=UTC))
    session.commit()


async def blast(url_port: int, messages: list[tuple[str, str, bytes]], connections: int) -> None:
    """The baseline: the same bytes, aiosmtplib, the same number of reused connections, nothing recorded."""

    async def worker(share: list[tuple[str, str, bytes]]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=url_port, start_tls=False)
        await client.connect()
        for sender, recipient, data in share:
            await client.sendmail(sender, [recipient], data)
        await client.quit()

    await asyncio.gather(*(worker(messages[i::connections]) for i in range(connections)))


def reset(session) -> None:  # type: ignore[no-untyped-def]
    """Forget every mail and put each learner's cursor back on unit 0, due at once."""
    from sqlalchemy import delete, update

    session.execute(delete(OutgoingMail))
    session.execute(update(Enrollment).values(next_position=0, next_due_at=DUE))
    session.commit()
    session.expunge_all()


def _schedule_at_due() -> None:
    """The scheduler's job in a process of its own (a second worker): render what is due at DUE, now."""
    from server.floor.db import get_engine

    get_engine().dispose(close=False)  # the parent's pooled connections stay the parent's
    with frozen(DUE), session_scope() as scheduling:
        schedule_all_due(scheduling)


def cpu(sink_pid: int) -> float:
    """CPU seconds so far of this process, its waited-for children and the sink (not PostgreSQL's server)."""
    import resource

    ticks = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{sink_pid}/stat").read_text().rsplit(")", 1)[1].split()
        sink = (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, IndexError, ValueError):
        sink = 0.0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime + sink


def overlapped(session, n: int) -> float:  # type: ignore[no-untyped-def]
    """Nothing rendered ahead, the two jobs at once as a worker with two processes runs them: the scheduler
    renders in one process (committing every 500 learners) while the sender sends what is committed, woken
    again 50 ms after it found nothing more (jobs.WAKE_GAP). Seconds until all `n` are sent."""
    import multiprocessing

    reset(session)
    began = time.perf_counter()
    child = multiprocessing.get_context("fork").Process(target=_schedule_at_due)
    child.start()
    sent = 0
    with frozen(DUE):
        while sent < n:
            with session_scope() as sending:
                sent += send_all(sending, limit=1000).sent
            if sent < n:
                if child.exitcode not in (None, 0):
                    raise SystemExit(f"the scheduler process failed ({child.exitcode})")
                time.sleep(0.05)
    child.join()
    return time.perf_counter() - began


def _worker_memory(environ: dict[str, str], answer) -> None:  # type: ignore[no-untyped-def]
    """In a spawned process: boot as a worker, run the two mail jobs at DUE, send back (sent, RSS, peak) in kB."""
    settings = boot(load_settings(environ=environ))
    from mail.jobs import schedule_job, send_job
    from server.roof.celery_app import make_celery

    make_celery(settings)  # what a worker imports and builds before its first job
    with frozen(DUE):
        scheduled = schedule_job()
        sent = send_job()
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    answer.send((scheduled, sent, int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0])))


def worker_memory(session, environ: dict[str, str], n: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """RSS after sending and peak RSS (MB) of a fresh worker process that rendered and sent `n` mails."""
    import multiprocessing

    reset(session)
    spawn = multiprocessing.get_context("spawn")
    mine, theirs = spawn.Pipe()
    child = spawn.Process(target=_worker_memory, args=(environ, theirs))
    child.start()
    scheduled, sent, rss, peak = mine.recv()
    child.join()
    assert scheduled == n and sent == n, (scheduled, sent)
    return rss // 1024, peak // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--sink", choices=["fast", "aiosmtpd"], default="fast")
    parser.add_argument(
        "--no-pipelining", dest="pipelining", action="store_false",
        help="the sink does not offer PIPELINING: the sender says one command at a time, as the blast does",
    )  # fmt: skip
    parser.add_argument("--dkim", action="store_true", help="sign every mail with a 2048-bit RSA DKIM key")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; best of each and median ratio")
    parser.add_argument("--postgres", action="store_true", help="use MECHMOOC_TEST_POSTGRES (default: SQLite)")
    parser.add_argument(
        "--no-overlap", dest="overlap", action="store_false", help="skip the run with both jobs at once"
    )
    parser.add_argument("--no-rss", dest="rss", action="store_false", help="skip the worker's memory")
    args = parser.parse_args()

    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="mechmooc-bench-mail-"))
    environ = {
        "MECHMOOC_DATA_DIR": str(workdir),
        "MECHMOOC_URL": "https://bench.example.org",
        "MECHMOOC_SECRET_KEY": "bench",
        "MECHMOOC_MAIL_DOMAIN": "lists.bench.example.org",
        "MECHMOOC_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "MECHMOOC_SMTP_CONNECTIONS": str(args.connections),
    }
    if args.postgres:
        environ["MECHMOOC_DATABASE_URL"] = (
            os.environ.get("MECHMOOC_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test").rsplit(
                "/", 1
            )[0]
            + "/mechmooc_bench_mail"
        )
        _fresh_pg(environ["MECHMOOC_DATABASE_URL"])
    if args.dkim:
        environ.update(MECHMOOC_DKIM_SELECTOR="bench", MECHMOOC_DKIM_KEY=_dkim_key(workdir))
    settings = boot(load_settings(environ=environ))
    sink = start_sink(args.sink, port, args.pipelining)
    try:
        session = session_factory()()
        populate(session, args.learners)
        ahead = DUE - timedelta(minutes=5)  # a scheduler tick inside the lookahead
        n = args.learners
        from mail.dkim import signer_from_settings, wire_bytes

        signer = signer_from_settings(settings)
        pipelines, renders, blasts, signs, overlaps = [], [], [], [], []
        cpus: dict[str, list[float]] = {"render": [], "send": [], "blast": [], "both": []}
        for _ in range(args.repeat):
            # Interleaved and best-of, because a shared machine's load comes and goes.
            reset(session)
            began, used = time.perf_counter(), cpu(sink.pid)
            # Two sessions, as the two jobs have in production (each job opens its own).
            with frozen(ahead), session_scope() as scheduling:
                scheduled = schedule_all_due(scheduling)
            with frozen(ahead), session_scope() as sending:
                assert send_all(sending).sent == 0  # rendered, not due: nothing leaves before 09:00
            renders.append(time.perf_counter() - began)
            cpus["render"].append(cpu(sink.pid) - used)
            began, used = time.perf_counter(), cpu(sink.pid)
            with frozen(DUE), session_scope() as sending:
                report = send_all(sending, limit=1000)
            pipelines.append(time.perf_counter() - began)
            cpus["send"].append(cpu(sink.pid) - used)
            assert scheduled == n and report.sent == n, (scheduled, report)
            rows = session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)).all()
            # The very bytes that went out (DKIM-signed when they were queued, with --dkim).
            messages = [(e.sender, e.recipient, e.data) for e in (envelope(row, signer) for row in rows)]
            if signer is not None:
                sample = [wire_bytes(row.message) for row in rows[:2000]]
                signing = time.perf_counter()
                for data in sample:
                    signer.sign(data)
                signs.append((time.perf_counter() - signing) / len(sample))
            began, used = time.perf_counter(), cpu(sink.pid)
            asyncio.run(blast(port, messages, args.connections))
            blasts.append(time.perf_counter() - began)
            cpus["blast"].append(cpu(sink.pid) - used)
            if args.overlap:
                used = cpu(sink.pid)
                overlaps.append(overlapped(session, n))
                cpus["both"].append(cpu(sink.pid) - used)
        pipeline, baseline, render_time = min(pipelines), min(blasts), min(renders)
        print(
            f"backend {'postgresql' if args.postgres else 'sqlite'}, sink {args.sink}, {args.connections} connections,"
            f" dkim {'on' if args.dkim else 'off'}, {n} mails of {sum(len(m[2]) for m in messages) // n} bytes,"
            f" best of {args.repeat}"
        )
        end_to_end = render_time + pipeline
        rows = [
            ("rendered ahead (scan, render, outbox)", render_time),
            ("sent at the due instant (lease, mark, SMTP, record)", pipeline),
            ("plain aiosmtplib blast of the same bytes", baseline),
            ("end to end (render + send)", end_to_end),
        ]
        if overlaps:
            rows.append(("end to end, both jobs at once (second process)", min(overlaps)))
        for label, seconds in rows:
            print(f"{label:<52} {n / seconds:7.0f} mails/s  {seconds:6.1f} s")
        print(f"ratio at the due instant (sending / blast):  {baseline / pipeline:.2f}  (best of each; target 0.8)")
        print(f"ratio end to end ((render + send) / blast):  {baseline / end_to_end:.2f}  (best of each; target 0.6)")
        # Each round's ratio compares with the blast of the same round; the median is what the targets are about.
        at_due = [b / p for b, p in zip(blasts, pipelines, strict=True)]
        whole = [b / (r + p) for b, r, p in zip(blasts, renders, pipelines, strict=True)]
        measured = [("at the due instant", at_due), ("end to end", whole)]
        if overlaps:
            measured.append(("end to end, both jobs at once", [b / o for b, o in zip(blasts, overlaps, strict=True)]))
        for label, ratios in measured:
            rounds = ", ".join(f"{ratio:.2f}" for ratio in ratios)
            print(f"median ratio {label}, of {len(ratios)} rounds: {statistics.median(ratios):.2f}  ({rounds})")
        # CPU time is steadier than the wall clock on a shared machine: the bench process (and the
        # scheduler's process), plus the sink; PostgreSQL's server is not counted.
        blast_cpu = statistics.median(cpus["blast"])
        print(
            f"CPU per mail (bench process + sink, median): render {statistics.median(cpus['render']) / n * 1e3:.3f} ms,"
            f" send {statistics.median(cpus['send']) / n * 1e3:.3f} ms, blast {blast_cpu / n * 1e3:.3f} ms"
        )
        in_cpu = [("at the due instant", [b / p for b, p in zip(cpus["blast"], cpus["send"], strict=True)])]
        in_cpu.append(
            ("end to end", [b / (r + p) for b, r, p in zip(cpus["blast"], cpus["render"], cpus["send"], strict=True)])
        )
        if cpus["both"]:
            in_cpu.append(
                ("end to end, both jobs at once", [b / o for b, o in zip(cpus["blast"], cpus["both"], strict=True)])
            )
        for label, ratios in in_cpu:
            rounds = ", ".join(f"{ratio:.2f}" for ratio in ratios)
            print(
                f"median ratio in CPU time {label}, of {len(ratios)} rounds: {statistics.median(ratios):.2f}  ({rounds})"
            )
        if signer is not None:
            print(
                f"DKIM signing alone (rsa-sha256, 2048 bits, one core): {1 / min(signs):8.0f} mails/s"
                " (done when the mails are queued: inside 'rendered ahead')"
            )
        if args.rss:
            rss, peak = worker_memory(session, environ, n)
            print(f"worker process after rendering and sending {n} mails: RSS {rss} MB, peak {peak} MB (target < 250)")
    finally:
        sink.terminate()
        sink.wait()


def _fresh_pg(url: str) -> None:
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    admin = create_engine(url.rsplit("/", 1)[0] + "/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _dkim_key(workdir: Path) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = workdir / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    return str(path)


if __name__ == "__main__":
    main()
