"""`mechmooc serve --demo` as a newcomer runs it (issue 15, items 1 to 3): a short console with one ready
line and a one-time login link, group mail by SMTP on a local port, the post in the group's archive; and
the other commands link to the port `serve` listens on, without MECHMOOC_URL."""

from __future__ import annotations

import html
import json
import mailbox
import re
import socket
import subprocess
import sys
import time
from datetime import date, timedelta

import httpx
import pytest

from tests.support.instances import Instance, free_port, ok

pytestmark = pytest.mark.slow
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TASK_LINES = ("Task ", "Sending due task", "celery@", "superuser", "serving http", "Running upgrade")


def newcomer(instance: Instance) -> Instance:
    """The instance as the README's Quickstart starts it: no MECHMOOC_* variable but the data dir."""
    for name in ("MECHMOOC_URL", "MECHMOOC_INSECURE_HTTP"):
        instance.env.pop(name, None)
    return instance


def wait_for(what: str, check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"no {what} within {timeout:.0f} s")


def log_in_with(url: str) -> httpx.Client:
    """A browser-like client that opened the login link and pressed its button."""
    client = httpx.Client(timeout=10)
    page = client.get(url)
    assert page.status_code == 200 and "Log in as Demo admin" in page.text, page.text
    done = client.post(url, data={"csrf_token": CSRF.search(page.text).group(1)})  # type: ignore[union-attr]
    assert done.status_code == 303 and done.headers["location"] == "/welcome", done.text
    return client


def outbox_to(instance: Instance, address: str) -> list[str]:
    box = mailbox.Maildir(str(instance.data_dir / "outbox"), create=True)
    return [message.as_string() for message in box if address in str(message.get("To", ""))]


def test_serve_demo_is_a_short_guided_tour(instance_factory) -> None:  # type: ignore[no-untyped-def]
    demo = newcomer(instance_factory("tour", demo=True, start=False)).start()
    started = demo.logs()
    assert f"Mechanical MOOC is ready at {demo.url}\n" in started, started
    assert f"first steps: {demo.url}/welcome" in started
    link = re.search(rf"log in as the demo admin .*: ({re.escape(demo.url)}/login/once/\S+)", started)
    smtp = re.search(r"group lists receive mail by SMTP on 127\.0\.0\.1:(\d+)", started)
    assert link and smtp and f"they go to {demo.data_dir / 'outbox'}" in started, started

    # The login link logs in once, and never again.
    admin = log_in_with(link.group(1))
    assert admin.get(demo.url + "/admin").status_code == 200
    with httpx.Client(timeout=10) as stranger:
        spent = stranger.get(link.group(1))
        assert spent.status_code == 400 and "no longer works" in spent.text
        token = CSRF.search(stranger.get(demo.url + "/login").text).group(1)  # type: ignore[union-attr]
        assert stranger.post(link.group(1), data={"csrf_token": token}).status_code == 400
        assert stranger.get(demo.url + "/admin").status_code in (302, 303)

    # The first-steps page's own Python command mails the group list through the SMTP port.
    welcome = admin.get(demo.url + "/welcome").text
    assert f"127.0.0.1:{smtp.group(1)}" in welcome
    command = html.unescape(re.search(r'<pre class="command"><code>(python3 -c .*?)</code>', welcome).group(1))  # type: ignore[union-attr]
    group = re.search(r'href="/groups/([^"]+)"', welcome).group(1)  # type: ignore[union-attr]
    run = re.search(r'href="/runs/([^"#]+)#signup"', welcome).group(1)  # type: ignore[union-attr]
    sent = subprocess.run(
        ["bash", "-c", command.replace("python3", sys.executable, 1)], capture_output=True, timeout=30
    )
    assert sent.returncode == 0, sent.stderr
    archive = wait_for(
        "post in the archive",
        lambda: "shall we start with the first unit" in admin.get(f"{demo.url}/groups/{group}").text,
    )
    assert archive
    # The other members get it by mail (in the outbox: no SMTP server is configured), sent by the worker.
    wait_for("relayed mail", lambda: outbox_to(demo, "grace@example.org"))

    # A few seconds of use and a send-due: about a line per request, none per task or tick.
    before = len(demo.logs().splitlines())
    requests = 0
    for _ in range(6):
        for path in ("/", "/welcome", f"/runs/{run}", "/courses/gentle-python"):
            assert admin.get(demo.url + path).status_code == 200
            requests += 1
        time.sleep(1)
    ok(demo.cli("mail", "send-due"))
    time.sleep(6)  # a tick of every 5-second job, on the worker and the scheduler
    lines = demo.logs().splitlines()[before:]
    assert len(lines) <= requests + 4, "\n".join(lines)
    logs = demo.logs()
    assert not [line for line in logs.splitlines() if any(noise in line for noise in TASK_LINES)], logs
    assert "sent " in logs and " mails" in logs  # the worker's summary of the relay
    assert "/login/once/…" in logs and link.group(1).rsplit("/", 1)[1] not in logs.split(started, 1)[1]
    assert len(logs.splitlines()) < requests + 30, logs
    admin.close()
    assert demo.stop() == 0 and not demo.leftovers
    assert "Traceback" not in demo.logs()


def test_commands_use_the_port_serve_listens_on(instance_factory) -> None:  # type: ignore[no-untyped-def]
    served = newcomer(instance_factory("port", demo=True, start=False, port=_port_8123_if_free())).start()
    assert "MECHMOOC_URL" not in served.env and served.port != 8000
    handle = _run_of(served)
    shown = served.cli("run", "show", handle)
    assert shown.returncode == 0, shown.stderr
    assert f"{served.url}/runs/{handle}" in shown.stdout and ":8000" not in shown.stdout
    run = json.loads(served.cli("run", "show", handle, "--json").stdout)
    assert run["id"] == f"{served.url}/runs/{handle}"

    # Mails written by `mail send-due` link to the same port (here the demo run's first unit, a day in).
    day = date.fromisoformat(str(run["start"])[:10]) + timedelta(days=1)
    ok(served.cli("mail", "send-due", "--now", f"{day.isoformat()}T12:00:00+00:00"))
    mails = [mail.replace("=\n", "") for mail in outbox_to(served, "ada@example.org")]
    assert mails and all(":8000" not in mail for mail in mails)
    assert any(f"{served.url}/me/" in mail for mail in mails), mails[-1][:3000]

    # MECHMOOC_URL still wins.
    pinned = served.cli("run", "show", handle, env={"MECHMOOC_URL": "http://mooc.localhost:9999"})
    assert pinned.returncode == 0 and f"http://mooc.localhost:9999/runs/{handle}" in pinned.stdout
    assert served.stop() == 0


def _port_8123_if_free() -> int:
    """The issue's own example port when nothing listens there, else any free port (not 8000)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 8123))
            return 8123
        except OSError:
            return free_port()


def _run_of(instance: Instance) -> str:
    """The demo run's handle, from its first-steps page."""
    page = instance.get("/welcome").text
    return re.search(r'href="/runs/([^"#]+)#signup"', page).group(1)  # type: ignore[union-attr]


def test_a_taken_port_2525_moves_the_demo_receiver_to_a_free_one(instance_factory) -> None:  # type: ignore[no-untyped-def]
    import smtplib

    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", 2525))
            taken.listen()
        except OSError:
            pass  # something else holds it already: the same case
        demo = instance_factory("busy2525", demo=True, worker=False)
        found = re.search(r"group lists receive mail by SMTP on 127\.0\.0\.1:(\d+)", demo.logs())
        assert found and found.group(1) != "2525", demo.logs()
        with smtplib.SMTP("127.0.0.1", int(found.group(1)), timeout=10) as client:
            assert client.noop()[0] == 250
        assert f"127.0.0.1:{found.group(1)}" in demo.get("/welcome").text
    assert demo.stop() == 0


def test_log_levels(instance_factory) -> None:  # type: ignore[no-untyped-def]
    quiet = instance_factory("quiet", worker=False, args=["--log-level", "warning"])
    for _ in range(5):
        assert quiet.get("/").status_code == 200
    assert f"Mechanical MOOC is ready at {quiet.url}" in quiet.logs()  # at every level
    assert '"GET / HTTP/1.1"' not in quiet.logs() and "INFO:" not in quiet.logs(), quiet.logs()
    assert quiet.stop() == 0

    chatty = instance_factory("chatty", env={"MECHMOOC_LOG_LEVEL": "debug"})
    wait_for("Celery's task lines", lambda: "Task server.heartbeat" in chatty.logs(), timeout=40)
    assert "Running upgrade" in chatty.logs() and '"GET /.well-known/nodeinfo HTTP/1.1"' in chatty.logs()
    assert chatty.stop() == 0
