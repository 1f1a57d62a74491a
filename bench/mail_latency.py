"""Mail latency: from a mail's due instant to its arrival at the SMTP server, on a real `mechmooc serve`.

    python3 bench/mail_latency.py [--pairs 20] [--stream 100] [--rate 20] [--database sqlite|postgres]

Starts `mechmooc serve` (this repository's code) with its embedded worker and scheduler, its
MECHMOOC_SMTP_URL pointing at a recording SMTP sink in a process of its own (bench/smtp_sink.py
--record: the wall-clock instant each message's final "." came in, and its recipient). Two patterns:
- confirmations, due the moment they are queued: sign-ups through the run page's form (GET for the
  CSRF token, POST /runs/{handle}/signup), each queueing a double opt-in mail; in pairs 0.1 s apart
  (the second while the first's send job runs) every 0.6 s, then as a stream of `--stream` at `--rate` per
  second. Latency: arrival at the sink - the POST's answer. (Each HTTP client binds its own
  127.0.0.x address: the form allows 20 sign-ups an hour per client network.)
- unit mails at their due instant: learners imported with `mechmooc run import` and grouped with
  `mechmooc run group`; then the bench sets each one's `next_due_at` in the database (directly: no
  command sets a cursor to an instant) to known instants 7 s ahead and on - pairs 0.1 s apart, a
  pair every 0.6 s, then a stream at `--rate` per second. The scheduler renders them ahead (its
  lookahead); they should leave at their instant, not at the next periodic tick. Latency: arrival
  at the sink - the due instant.
Prints p50, p99 and the maximum of each, and how many did not arrive within 60 s.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from federation_support import ROOT
from sqlalchemy import text, update

from tests.support.instances import Instance, drop_postgres_database, free_port, fresh_postgres_database, ok

FIXTURE = ROOT / "tests" / "fixtures" / "courses" / "gentle-python"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PAIR_EVERY = 0.6  # seconds from one pair to the next (a send pass of a pair takes ~50 ms)
LEAD = 7.0  # seconds from setting the cursors to the first due instant (the scheduler's tick is 5 s)
PER_CLIENT = 15  # sign-ups per client address (the form's limit is 20 an hour per network)


def note(what: str) -> None:
    """A progress line on stderr."""
    print(f"{time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def percentile(values: list[float], share: float) -> float:
    """The `share` percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


class Sink:
    """bench/smtp_sink.py --record as a child process; `arrivals()` stops it: recipient -> arrival instants."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "smtp_sink.py"), str(self.port), "--record"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready"

    def arrivals(self) -> dict[str, list[float]]:
        """Stop the sink; when each recipient's messages arrived (wall clock, seconds)."""
        out, _ = self.process.communicate("", timeout=60)
        seen: dict[str, list[float]] = {}
        for arrived, recipients, _subject in json.loads(out.strip().splitlines()[-1]):
            for recipient in recipients:
                seen.setdefault(recipient, []).append(arrived)
        return seen


class Signups:
    """Sign-ups through the run page's form, a new client address every PER_CLIENT of them."""

    def __init__(self, instance: Instance, handle: str) -> None:
        self.instance, self.handle = instance, handle
        self.count = 0
        self.client: httpx.Client | None = None
        self.token = ""
        self.answered: dict[str, float] = {}  # address -> when its POST was answered (wall clock)

    def _client(self) -> httpx.Client:
        if self.client is None or self.count % PER_CLIENT == 0:
            if self.client is not None:
                self.client.close()
            n = self.count // PER_CLIENT
            address = f"127.0.{1 + n // 250}.{2 + n % 250}"
            transport = httpx.HTTPTransport(local_address=address)
            self.client = httpx.Client(base_url=self.instance.url, transport=transport, timeout=30)
            page = self.client.get(f"/runs/{self.handle}")
            found = TOKEN.search(page.text)
            assert page.status_code == 200 and found, page.text[:500]
            self.token = found.group(1)
        return self.client

    def one(self) -> str:
        """Sign one new address up; it."""
        client = self._client()
        address = f"signup{self.count}@example.org"
        self.count += 1
        form = {"email": address, "name": f"Learner {self.count}", "timezone": "UTC", "csrf_token": self.token}
        answer = client.post(f"/runs/{self.handle}/signup", data=form)
        self.answered[address] = time.time()
        assert answer.status_code == 303, (answer.status_code, answer.text[:500])
        return address

    def close(self) -> None:
        """Close the last client."""
        if self.client is not None:
            self.client.close()


def arrival_after(seen: dict[str, list[float]], address: str, instant: float) -> float | None:
    """The first arrival of a mail to `address` at or after `instant` - 1 s (clock slack), if any."""
    times = [t for t in seen.get(address, []) if t >= instant - 1.0]
    return min(times) if times else None


def summary(name: str, latencies: list[float | None]) -> str:
    """One line: p50, p99, max in ms, and how many never arrived."""
    got = [value for value in latencies if value is not None]
    lost = len(latencies) - len(got)
    if not got:
        return f"{name}: {len(latencies)} mails, none arrived"
    return (
        f"{name}: {len(latencies)} mails, due -> sent p50 {statistics.median(got) * 1000:.0f} ms, "
        f"p99 {percentile(got, 0.99) * 1000:.0f} ms, max {max(got) * 1000:.0f} ms"
        + (f", {lost} not arrived within 60 s" if lost else "")
    )


def unit_instants(pairs: int, stream: int, rate: float, first: float) -> list[float]:
    """Due instants (wall clock): pairs 0.1 s apart, PAIR_EVERY from pair to pair, then a stream at `rate` a second."""
    instants = [first + k * PAIR_EVERY + gap for k in range(pairs) for gap in (0.0, 0.1)]
    return instants + [first + pairs * PAIR_EVERY + k / rate for k in range(stream)]


def wait_for_arrivals(sink_count: Callable[[], int], expected: int, limit: float) -> None:
    """Sleep until `sink_count()` reaches `expected` or `limit` seconds passed."""
    deadline = time.monotonic() + limit
    while sink_count() < expected and time.monotonic() < deadline:
        time.sleep(0.2)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--stream", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-name", default="mechmooc_mail_latency", help="PostgreSQL: dropped and created")
    args = parser.parse_args()
    if args.pairs * 2 + args.stream > 450:
        parser.error("at most 450 sign-ups (the form's limit is 500 an hour per run)")

    from courses.folder import import_course
    from courses.models import Enrollment
    from courses.runs import create_run
    from server.floor.db import session_scope
    from server.floor.settings import load_settings
    from server.roof.bootstrap import boot

    root = Path(tempfile.mkdtemp(prefix="mechmooc-mail-latency-"))
    sink = Sink()
    env = {"MECHMOOC_SMTP_URL": f"smtp://127.0.0.1:{sink.port}", "PYTHONPATH": str(ROOT)}
    if args.database == "postgres":
        env["MECHMOOC_DATABASE_URL"] = fresh_postgres_database(args.database_name)
    outbox_sent = {"sql": "SELECT count(*) FROM mail_outgoing WHERE state = 'done'"}
    try:
        with Instance(root / "alpha", env=env) as instance:
            boot(
                load_settings(environ={k: v for k, v in instance.env.items() if k.startswith("MECHMOOC_")}),
                migrate=False,
            )

            def sent() -> int:
                with session_scope() as session:
                    return int(session.scalar(text(outbox_sent["sql"])) or 0)

            note("serve is ready")
            # The course and its two runs in this process (as `mechmooc course import` and `run create`
            # do; a command each costs a process start), the learners through the command line.
            with session_scope() as session:
                course = import_course(session, FIXTURE)
                start = date.today() + timedelta(days=30)
                signup_run, unit_run = (create_run(session, course, start).handle for _ in range(2))
                session.commit()
            learners = 2 * args.pairs + args.stream
            csv = root / "learners.csv"
            csv.write_text(
                "email,name,timezone\n" + "".join(f"unit{n}@example.org,Unit {n},UTC\n" for n in range(learners))
            )
            ok(instance.cli("run", "import", unit_run, str(csv)))
            ok(instance.cli("run", "group", unit_run))

            note("runs created, learners imported and grouped")
            # Pattern 1: confirmations, due when queued.
            signups = Signups(instance, signup_run)
            warm = signups.one()
            wait_for_arrivals(sent, 1, 60)  # the worker is up and has sent once
            note("the first confirmation went out")
            pairs: list[str] = []
            for _ in range(args.pairs):
                pairs.append(signups.one())
                time.sleep(0.1)
                pairs.append(signups.one())
                time.sleep(PAIR_EVERY - 0.1)
            stream: list[str] = []
            began = time.monotonic()
            for k in range(args.stream):
                time.sleep(max(0.0, began + k / args.rate - time.monotonic()))
                stream.append(signups.one())
            signups.close()
            wait_for_arrivals(sent, 1 + len(pairs) + len(stream), 60)

            note("confirmations sent")
            # Pattern 2: unit mails rendered ahead, due at known instants.
            first = time.time() + LEAD
            instants = unit_instants(args.pairs, args.stream, args.rate, first)
            with session_scope() as session:
                for n, instant in enumerate(instants):
                    at = datetime.fromtimestamp(instant, UTC)
                    session.execute(
                        update(Enrollment).where(Enrollment.email == f"unit{n}@example.org").values(next_due_at=at)
                    )
                session.commit()
            before = sent()
            wait_for_arrivals(sent, before + len(instants), instants[-1] - time.time() + 60)
            time.sleep(0.5)
            note("unit mails sent")
    finally:
        seen = sink.arrivals()
        if args.database == "postgres":
            drop_postgres_database(args.database_name)
    assert warm in seen, "no confirmation mail arrived at all: see serve.log in " + str(root)
    print(f"database {args.database}; {learners} learners; rate {args.rate:g}/s")
    pair_units = [f"unit{n}@example.org" for n in range(2 * args.pairs)]
    stream_units = [f"unit{n}@example.org" for n in range(2 * args.pairs, learners)]

    def signup_latency(address: str) -> float | None:
        arrived = arrival_after(seen, address, signups.answered[address])
        return None if arrived is None else arrived - signups.answered[address]

    def unit_latency(address: str) -> float | None:
        due = instants[int(address[4:].split("@")[0])]
        arrived = arrival_after(seen, address, due)
        return None if arrived is None else arrived - due

    print(summary("confirmations, pairs (second 0.1 s after the first)", [signup_latency(a) for a in pairs]))
    print(summary(f"confirmations, stream ({args.rate:g}/s)", [signup_latency(a) for a in stream]))
    print(summary("units, pairs (due 0.1 s apart)", [unit_latency(a) for a in pair_units]))
    print(summary(f"units, stream (due {args.rate:g}/s)", [unit_latency(a) for a in stream_units]))
    early = [
        a
        for a in pair_units + stream_units
        if any(t < instants[int(a[4:].split("@")[0])] - 0.05 for t in seen.get(a, []))
    ]
    if early:
        print(f"{len(early)} unit mails arrived before their due instant")


if __name__ == "__main__":
    main()
