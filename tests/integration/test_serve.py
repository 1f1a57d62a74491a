"""`mechmooc serve` as a user runs it: migrate, keys, worker, clean stop, and a restart that finds everything."""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.support.instances import Instance

pytestmark = pytest.mark.slow


def _instance_key(instance: Instance) -> str:
    with sqlite3.connect(instance.data_dir / "mechmooc.sqlite3") as db:
        rows = db.execute("SELECT public_pem FROM federation_actor_keys").fetchall()
    assert len(rows) == 1, rows
    return str(rows[0][0])


def _wait_for_heartbeat(instance: Instance, timeout: float = 40) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = instance.get("/healthz").json()
        if report["worker"]["age_seconds"] is not None:
            return report
        time.sleep(0.5)
    raise AssertionError(f"no worker heartbeat within {timeout} s:\n{instance.logs()}")


def test_serve_runs_worker_stops_cleanly_and_restarts_as_it_was(instance_factory):
    alpha = instance_factory("alpha")
    health = alpha.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["database"]["ok"] and health.json()["broker"]["detail"].startswith("embedded")

    created = alpha.cli("user", "create", "ada@example.org", "--password", "correct horse", "--role", "admin")
    assert created.returncode == 0, created.stderr
    account_id = created.stdout.strip().splitlines()[-1]
    assert account_id.isdigit()
    key = _instance_key(alpha)

    # The embedded worker and scheduler run the heartbeat job through the file broker.
    report = _wait_for_heartbeat(alpha)
    assert report["status"] == "ok" and report["worker"]["ok"]

    assert alpha.stop() == 0
    assert not alpha.leftovers, "worker or scheduler outlived serve"
    logs = alpha.logs()
    assert "Traceback" not in logs, logs
    assert "Warm shutdown" in logs  # the worker finished its tasks before exiting

    alpha.start()
    assert _instance_key(alpha) == key  # the instance keeps its keys across restarts
    again = alpha.cli("user", "create", "ada@example.org")
    assert again.returncode == 1 and "exists already" in again.stderr
    listed = alpha.cli("user", "create", "grace@example.org", "--json")
    assert listed.returncode == 0 and int(listed.stdout.split('"id": ')[1].split(",")[0]) > int(account_id)


def test_sigint_stops_like_sigterm(instance_factory):
    import signal

    beta = instance_factory("beta")
    assert beta.get("/healthz").status_code == 200
    assert beta.stop(signal.SIGINT) == 0
    assert not beta.leftovers
    assert "Mechanical MOOC stopped" in beta.logs()


def test_no_worker_serves_the_web_app_alone(instance_factory):
    gamma = instance_factory("gamma", worker=False)
    assert gamma.get("/healthz").json()["database"]["ok"]
    assert "celery@" not in gamma.logs()
    assert gamma.stop() == 0


def test_demo_fills_an_empty_instance_once(instance_factory):
    demo = instance_factory("demo", demo=True, worker=False)
    listed = demo.cli("course", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "gentle-python" in listed.stdout
    with sqlite3.connect(demo.data_dir / "mechmooc.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    assert "A Gentle Introduction to Python" in demo.get("/").text  # a living catalogue at once
    demo.stop()
    demo.start()  # --demo again: the instance is no longer empty, nothing is added
    with sqlite3.connect(demo.data_dir / "mechmooc.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM courses").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    assert "already has courses" in demo.logs()


def test_sigterm_stops_accepting_but_finishes_the_request_in_flight(instance_factory):
    import signal
    import socket

    delta = instance_factory("delta", worker=False)
    body = b'{"type": "Follow", "actor": "http://127.0.0.1:9/users/x", "object": "' + delta.url.encode() + b'/actor"}'
    client = socket.create_connection(("127.0.0.1", delta.port), timeout=30)
    head = (
        f"POST /inbox HTTP/1.1\r\nHost: {delta.host}\r\nContent-Type: application/activity+json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    client.sendall(head.encode() + body[:10])  # the request is in flight: its body is still coming
    time.sleep(0.5)
    delta.process.send_signal(signal.SIGTERM)

    deadline = time.monotonic() + 10
    refused = False
    while time.monotonic() < deadline and not refused:
        try:
            socket.create_connection(("127.0.0.1", delta.port), timeout=1).close()
            time.sleep(0.1)
        except ConnectionRefusedError:
            refused = True
    assert refused, "serve kept accepting new connections after SIGTERM"
    assert delta.running, "serve quit with a request in flight"

    client.sendall(body[10:])
    answer = client.recv(65536).decode(errors="replace")
    client.close()
    assert answer.startswith("HTTP/1.1 4"), answer  # answered (unsigned, so refused) rather than cut off
    assert delta.stop() == 0


def _command_of(pid: int) -> str:
    from pathlib import Path

    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def test_a_worker_that_dies_is_started_again(instance_factory):
    import os
    import signal

    epsilon = instance_factory("epsilon")
    deadline = time.monotonic() + 30
    workers: list[int] = []
    while time.monotonic() < deadline and not workers:
        workers = [pid for pid in epsilon.children() if " worker " in _command_of(pid) + " "]
        time.sleep(0.2)
    assert len(workers) == 1, epsilon.children()
    time.sleep(11)  # past the crash-loop guard: a worker that dies young is restarted later
    os.kill(workers[0], signal.SIGKILL)
    while time.monotonic() < deadline + 60:
        replacement = [pid for pid in epsilon.children() if " worker " in _command_of(pid) + " "]
        if replacement and replacement != workers:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"no new worker:\n{epsilon.logs()}")
    assert "exited with -9; starting it again" in epsilon.logs()
    with sqlite3.connect(epsilon.data_dir / "mechmooc.sqlite3") as db:
        before = {row[0] for row in db.execute("SELECT worker FROM worker_heartbeats")}
    new_name = f":{replacement[0]}"
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        with sqlite3.connect(epsilon.data_dir / "mechmooc.sqlite3") as db:
            names = {row[0] for row in db.execute("SELECT worker FROM worker_heartbeats")}
        if any(name.endswith(new_name) for name in names):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the new worker ran no heartbeat ({before} -> {names}):\n{epsilon.logs()}")
    assert epsilon.stop() == 0 and not epsilon.leftovers
