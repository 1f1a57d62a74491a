"""A sending worker killed with SIGKILL in the middle of a batch: the next pass sends the rest by itself,
mails in doubt included (with their Message-ID); nothing is lost, and at most one mail per SMTP connection
arrives twice. Nobody touches anything in between."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from mail.models import OutgoingMail
from mail.scheduler import schedule_all_due
from server.floor.clock import frozen
from server.floor.db import get_engine, session_factory
from server.floor.queue import DONE
from server.roof.bootstrap import boot
from tests.conftest import _truncate_postgres, make_settings
from tests.mail.conftest import gentle_run
from tests.support.instances import mechmooc_command
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.slow
LEARNERS = 300
CONNECTIONS = 2


def send_due(env: dict[str, str], at: str) -> subprocess.Popen[bytes]:
    """`mechmooc mail send-due --now AT` as its own process."""
    return subprocess.Popen(
        [*mechmooc_command(), "mail", "send-due", "--now", at],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_killed_sender_loses_nothing_and_doubles_at_most_one_mail_per_connection(tmp_path: Path, backend: str) -> None:
    with SmtpSink(delay=0.02) as sink:
        overrides = {"smtp_url": sink.url, "smtp_connections": str(CONNECTIONS)}
        settings = make_settings(tmp_path, backend, **overrides)
        boot(settings)
        if backend == "postgres":
            _truncate_postgres()
        session = session_factory()()
        with frozen(datetime(2026, 3, 1, tzinfo=UTC)):
            gentle_run(session, [(f"l{i}@example.org", f"L {i}", "UTC") for i in range(LEARNERS)])
        with frozen(datetime(2026, 3, 2, 10, tzinfo=UTC)):
            assert schedule_all_due(session) == LEARNERS
        session.close()
        get_engine().dispose()
        env = {**os.environ, **{f"MECHMOOC_{k.upper()}": v for k, v in overrides.items()}}
        env.update(
            MECHMOOC_DATA_DIR=str(settings.data_dir),
            MECHMOOC_DATABASE_URL=settings.database_url,
            MECHMOOC_URL=settings.url,
            MECHMOOC_INSECURE_HTTP="1",
            MECHMOOC_SECRET_KEY=settings.secret_key,
            MECHMOOC_MAIL_DOMAIN=settings.mail_domain,
        )
        first = send_due(env, "2026-03-02T10:00:00Z")
        deadline = time.monotonic() + 60
        # Not a multiple of the rounds' size: killed in the middle of a round, not between two.
        while len(sink.received) < 47 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert first.poll() is None, "the worker finished before it could be killed"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        time.sleep(0.5)  # a message whose DATA was already sent is still being accepted by the slow sink
        killed_at = len(sink.received)
        assert killed_at < LEARNERS
        # An hour later every lease and grace period has run out; the next pass takes over, alone.
        second = send_due(env, "2026-03-02T11:00:00Z")
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err.decode()
        counts = Counter(r.recipients[0] for r in sink.received)
        session = session_factory()()
        rows = session.scalars(select(OutgoingMail)).all()
        assert {r.state for r in rows} == {DONE}, "a mail was left for a person"
        assert set(counts) == {r.to_addr for r in rows}, "a mail was lost"
        duplicates = sum(n - 1 for n in counts.values())
        assert duplicates <= CONNECTIONS, f"{duplicates} mails arrived twice with {CONNECTIONS} connections"
        # What arrived twice is the same message: the same Message-ID, the same bytes.
        for address, number in counts.items():
            if number > 1:
                assert len({r.data for r in sink.to(address)}) == 1
        assert int(out.decode().strip().splitlines()[-1]) == len(sink.received) - killed_at
        session.close()
        get_engine().dispose()
