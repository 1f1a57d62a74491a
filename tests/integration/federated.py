"""Waiting on instances of ours that federate: `eventually` polls a probe while nudging their
federation jobs, and on a timeout tells a lost activity from a slow one (deliveries, inbox, logs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from tests.support.instances import Instance, query

T = TypeVar("T")
POLL_SECONDS = 0.4
NUDGE_EVERY = 4  # polls; the workers are woken on each enqueue, the nudge is a safety net


def eventually(probe: Callable[[], T], what: str, instances: list[Instance], timeout: float = 90) -> T:
    """Poll `probe` until it returns something truthy, running the instances' federation work now and then."""
    deadline = time.monotonic() + timeout
    polls = 0
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        polls += 1
        if polls % NUDGE_EVERY == 0:
            for instance in instances:
                instance.cli("federation", "work")
        time.sleep(POLL_SECONDS)
    state = "\n\n".join(f"--- {i.url}\n{federation_state(i)}\n{i.logs()[-4000:]}" for i in instances)
    raise AssertionError(f"timed out waiting for {what}\n{state}")


def federation_state(instance: Instance) -> str:
    """The instance's deliveries and received activities, to tell a lost activity from a slow one."""
    sent = query(
        instance,
        "SELECT activity_id, inbox, state, attempts, status_code, next_attempt_at, last_error FROM federation_deliveries",
    )
    received = query(
        instance, "SELECT activity_id, type, actor, state, attempts, outcome, last_error FROM federation_inbox"
    )
    return "\n".join(["deliveries:", *map(repr, sent), "inbox:", *map(repr, received)])


def one(instance: Instance, sql: str, *args: Any) -> Any:
    """The first column of the first row of `sql` on the instance, or None."""
    rows = query(instance, sql, *args)
    return rows[0][0] if rows else None
