"""A recording waker for tests of job wake-ups (server.floor.jobs): `sent` is a pytest fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.floor import jobs


@pytest.fixture
def sent() -> Iterator[list[str]]:
    """The wake-up messages that leave this process (a recording waker); timers left armed are stopped."""
    messages: list[str] = []
    saved = list(jobs._wakers)
    jobs.set_waker(messages.append)
    try:
        yield messages
    finally:
        jobs._wakers[:] = saved
        with jobs._wake_lock:
            for timer in jobs._timers.values():
                timer.cancel()
            jobs._timers.clear()
            jobs._last_sent.clear()
