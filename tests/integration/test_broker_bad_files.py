"""The embedded broker after a full disk (issue 11, item 13): zero-byte and garbage message files, and a
zero-byte exchange table, no longer kill the worker at every start. They are moved aside to
`broker/bad/`, and the confirmation mails waiting in the database go out.

Without the fix the worker died on each bad file ("Unrecoverable error: JSONDecodeError"), was started
again 10 s later, died on the next one, and no mail went out.
"""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.support.instances import Instance, InstanceFactory, ok, query

pytestmark = pytest.mark.slow

LEARNERS = 12
BAD_PER_QUEUE = 12  # zero-byte files; and as many garbage ones
QUEUES = ("default", "mail")


def _plant_bad_files(data_dir: Path) -> list[str]:
    """What a full disk leaves: messages cut to nothing or to a few bytes, sorted before any real one."""
    queue = data_dir / "broker" / "queue"
    names = []
    for name in QUEUES:
        for n in range(BAD_PER_QUEUE):
            empty = queue / f"{n:07d}_{uuid.uuid4()}.{name}.msg"
            empty.write_bytes(b"")
            cut = queue / f"{n:07d}_{uuid.uuid4()}.{name}.msg"
            cut.write_bytes(b'{"body": "eyJ0YXNr')  # a message cut off mid-write
            names += [empty.name, cut.name]
    # The exchange table of a queue, truncated while it was being written.
    (data_dir / "broker" / "control" / "mail.exchange").write_bytes(b"")
    return names


def test_bad_broker_files_are_set_aside_and_pending_confirmations_go_out(instance_factory: InstanceFactory) -> None:
    first = instance_factory("broker", worker=False)
    ok(first.cli("course", "import", str(FIXTURES / "courses" / "gentle-python")))
    start = (date.today() + timedelta(days=30)).isoformat()
    run = ok(first.cli("run", "create", "gentle-python", "--start", start)).rsplit("/", 1)[-1]
    for n in range(LEARNERS):
        answer = httpx.post(
            f"{first.url}/api/runs/{run}/signup",
            json={"email": f"learner{n}@example.org", "name": f"Learner {n}", "timezone": "Europe/Berlin"},
            timeout=30,
        )
        assert answer.status_code in (200, 201, 202), answer.text
    waiting = query(first, "SELECT count(*) FROM mail_outgoing WHERE kind = 'confirm' AND state = 'queued'")
    assert waiting == [(LEARNERS,)]
    assert first.stop() == 0

    planted = _plant_bad_files(first.data_dir)
    # The same data dir, now with the embedded worker and scheduler.
    second = Instance(first.root, worker=True)
    with second:
        deadline = time.monotonic() + 90
        done: list[tuple[int]] = [(0,)]
        while time.monotonic() < deadline:
            done = query(second, "SELECT count(*) FROM mail_outgoing WHERE kind = 'confirm' AND state = 'done'")
            if done == [(LEARNERS,)]:
                break
            time.sleep(0.5)
        health = second.get("/healthz").json()
        logs = second.logs()
    assert done == [(LEARNERS,)], f"{done[0][0]} of {LEARNERS} confirmation mails went out:\n{logs[-6000:]}"
    outbox = second.data_dir / "outbox" / "new"
    assert len(list(outbox.iterdir())) == LEARNERS
    assert "Unrecoverable error" not in logs and "exited with" not in logs, logs[-6000:]
    bad = second.data_dir / "broker" / "bad"
    assert set(planted) <= {path.name for path in bad.iterdir()}
    assert (bad / "mail.exchange").exists()
    left = {path.name for path in (second.data_dir / "broker" / "queue").iterdir()}
    assert not left & set(planted)
    assert "is not a message" in logs  # each one is named in the log
    assert health["children"]["ok"] and not health["processes"]["worker"]["crash_loop"]
