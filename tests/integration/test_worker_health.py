"""`/healthz` and a real `mechmooc worker`: beating while it lives, "not beating" soon after a kill -9."""

from __future__ import annotations

import os
import signal
import time

import pytest

from server.floor.heartbeat import STALE_AFTER
from tests.support.instances import Command

pytestmark = pytest.mark.slow


def test_healthz_says_a_killed_worker_is_gone_within_the_stale_threshold(instance_factory) -> None:
    web = instance_factory("web-only", worker=False)
    worker = Command(["worker"], web.env, web.root / "worker")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            report = web.get("/healthz").json()
            if report["worker"]["age_seconds"] is not None and report["worker"]["ok"]:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the worker never beat:\n{worker.logs()}")
        os.killpg(worker.pid, signal.SIGKILL)
        killed = time.monotonic()
        while time.monotonic() - killed < 60:
            response = web.get("/healthz")
            if not response.json()["worker"]["ok"]:
                break
            time.sleep(0.5)
        gone_after = time.monotonic() - killed
        assert response.status_code == 503 and "last heartbeat" in response.json()["worker"]["detail"]
        # It used to say "beating" for up to a minute after every worker had died.
        assert gone_after <= STALE_AFTER.total_seconds() + 3, gone_after
    finally:
        worker.stop(timeout=5)
