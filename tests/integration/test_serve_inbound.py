"""`serve` with MECHMOOC_INBOUND_SMTP: a member's mail to the group address reaches the other members."""

from __future__ import annotations

import json
import mailbox
import smtplib
import time
from email.message import EmailMessage

import pytest

from tests.support.instances import free_port

pytestmark = pytest.mark.slow


def _outbox_to(data_dir, address: str) -> list:
    box = mailbox.Maildir(str(data_dir / "outbox"), create=True)
    return [message for message in box if address in str(message.get("To", ""))]


def test_group_mail_by_smtp_is_relayed_to_the_other_members(instance_factory):
    smtp_port = free_port()
    instance = instance_factory(
        "lists",
        demo=True,
        env={"MECHMOOC_INBOUND_SMTP": f"127.0.0.1:{smtp_port}", "MECHMOOC_MAIL_DOMAIN": "lists.test"},
    )
    created = instance.cli("run", "create", "gentle-python", "--start", "2030-01-07", "--timezone", "Europe/Paris")
    assert created.returncode == 0, created.stderr
    run_id = created.stdout.strip().splitlines()[-1]
    for email, zone in (("ann@example.org", "Europe/Paris"), ("bo@example.org", "Europe/Berlin")):
        enrolled = instance.cli("run", "enroll", run_id, email, "--name", email.split("@")[0], "--timezone", zone)
        assert enrolled.returncode == 0, enrolled.stderr
    grouped = instance.cli("run", "group", run_id)
    assert grouped.returncode == 0, grouped.stderr
    group = json.loads(instance.cli("run", "show", run_id, "--json").stdout)["groups"][0]
    assert group["address"].endswith("@lists.test")

    message = EmailMessage()
    message["From"] = "Ann <ann@example.org>"
    message["To"] = group["address"]
    message["Subject"] = "Hello group"
    message["Message-ID"] = "<hello-1@example.org>"
    message.set_content("Hi all, I am Ann.")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
        client.send_message(message)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _outbox_to(instance.data_dir, "bo@example.org"):
        instance.cli("mail", "send-due")
        time.sleep(0.5)
    relayed = _outbox_to(instance.data_dir, "bo@example.org")
    assert relayed, instance.logs()
    assert "Hi all, I am Ann." in relayed[0].as_string()
    assert group["address"] in str(relayed[0]["Reply-To"])
    # The author does not get her own post back.
    assert all("Hello group" not in str(m["Subject"]) for m in _outbox_to(instance.data_dir, "ann@example.org"))


def test_a_busy_inbound_port_is_one_line(instance_factory):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        instance = instance_factory("busy", start=False, env={"MECHMOOC_INBOUND_SMTP": f"127.0.0.1:{port}"})
        result = instance.cli("serve", "--port", str(free_port()), timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: MECHMOOC_INBOUND_SMTP") and "Traceback" not in result.stderr, result.stderr
