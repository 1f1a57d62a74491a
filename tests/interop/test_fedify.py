"""Interop with an independent ActivityPub implementation: Fedify (npm), against a real `mechmooc serve`.

The test installs the pinned Fedify into tests/interop/node_modules (`npm ci`, from the npm
registry) and starts `fedify_peer.mjs` on 127.0.0.1. Fedify verifies every signature we send it;
we verify every one it sends us. Covered: WebFinger both ways, Fedify's signed Follow of one of our
courses accepted (our Accept verified by Fedify), our follow of Fedify's actor accepted (its Accept
verified by us), our run announcement delivered to Fedify, Fedify's Note delivered to us, a
Fedify learner and an email learner talking in one study group (the email post reaches Fedify as a
note for her, her reply reaches the email learner by mail), and a forged signature claiming
Fedify's actor refused with 401.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from federation.protocol.crypto import SigningKey, generate_pem
from federation.protocol.signatures import sign_request
from tests.conftest import FIXTURES
from tests.support.instances import Instance, InstanceFactory, free_port, ok, query

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
T = TypeVar("T")


def npm_install() -> None:
    """Install the pinned Fedify once (package-lock.json); skip with the reason when npm cannot."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the Fedify interop test needs Node.js 20+ and npm")
    # Test workers (pytest -n) share the folder: one installs while the others wait.
    with (HERE / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (HERE / "node_modules" / "@fedify" / "fedify" / "package.json").exists():
            return
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture
def fedify(tmp_path: Path) -> Iterator[str]:
    """A running Fedify peer on 127.0.0.1; its base URL."""
    npm_install()
    port = free_port()
    log = (tmp_path / "fedify.log").open("w")
    process = subprocess.Popen(
        ["node", "fedify_peer.mjs", str(port)], cwd=HERE, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(url + "/_received", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert process.poll() is None, (tmp_path / "fedify.log").read_text()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def eventually(probe: Callable[[], T], what: str, ours: Instance, timeout: float = 60) -> T:
    """Poll `probe` until truthy, running our instance's federation jobs meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        ours.cli("federation", "work")
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{ours.logs()[-3000:]}")


def received(fedify: str, kind: str) -> list[dict[str, Any]]:
    """What Fedify accepted into alice's inbox (signature verified by Fedify), of one type."""
    return [r for r in httpx.get(fedify + "/_received", timeout=10).json() if r["kind"] == kind]


def listed(value: Any) -> list[Any]:
    """A JSON-LD value as a list (compaction writes a one-item list as the item)."""
    return value if isinstance(value, list) else [value]


def test_fedify_and_mechmooc_follow_and_deliver_to_each_other(instance_factory: InstanceFactory, fedify: str) -> None:
    ours = instance_factory("ours")
    course = ok(ours.cli("course", "import", str(FIXTURES / "courses" / "gentle-python")))
    fedify_host = fedify.removeprefix("http://")
    alice = f"{fedify}/users/alice"

    # Fedify looks our course up by WebFinger handle and follows it; Fedify verifies our Accept.
    answer = httpx.post(f"{fedify}/_follow", params={"target": f"@gentle-python@{ours.host}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"followed": course, "name": "A Gentle Introduction to Python"}
    eventually(lambda: query(ours, "SELECT 1 FROM federation_followers WHERE actor = ? AND follower = ?", course, alice),
               "our course to record alice as a follower", ours)  # fmt: skip
    eventually(lambda: received(fedify, "Accept"), "Fedify to accept our signed Accept", ours)

    # We look alice up by WebFinger and follow her; her Accept, signed by Fedify, is verified here.
    assert ok(ours.cli("course", "follow", f"@alice@{fedify_host}")) == alice
    eventually(
        lambda: query(ours, "SELECT state FROM federation_following WHERE target = ?", alice) == [("accepted",)],
        "Fedify's Accept of our Follow", ours,
    )  # fmt: skip
    follows = received(fedify, "Follow")
    assert follows and follows[0]["actor"] == f"{ours.url}/actor"

    # A new run is announced to the course's followers: Fedify receives and verifies the Create.
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    run = ok(ours.cli("run", "create", "gentle-python", "--start", yesterday))
    announced = eventually(
        lambda: [c for c in received(fedify, "Create") if run in json.dumps(c["json"])],
        "our run announcement at Fedify",
        ours,
    )
    assert announced[0]["actor"] == course
    # Publishing the version (opening the run did) sent a Create of its Article: Fedify verified and kept it.
    assert [c for c in received(fedify, "Create") if c["json"]["object"]["type"] == "Article"]

    # Alice joins the run by following it (found by its WebFinger handle) and gets the first unit.
    handle = run.rsplit("/", 1)[1]
    joined = httpx.post(f"{fedify}/_follow", params={"target": f"@{handle}@{ours.host}"}, timeout=60)
    assert joined.status_code == 200 and joined.json()["followed"] == run, joined.text
    eventually(lambda: query(ours, "SELECT status FROM enrollments WHERE actor = ?", alice) == [("confirmed",)],
               "alice enrolled in the run", ours)  # fmt: skip
    ok(ours.cli("mail", "send-due", "--now", datetime.now(UTC).isoformat(timespec="seconds")))
    # Units come from the course (a Service), written for alice alone: to her, cc the course, a Mention of her.
    units = eventually(
        lambda: [
            c for c in received(fedify, "Create") if c["actor"] == course and "/posts/unit-" in json.dumps(c["json"])
        ],
        "the first unit as a Note at Fedify",
        ours,
    )
    unit = units[0]["json"]["object"]  # compacted by Fedify's JSON-LD: one-item lists become the item
    (mention,) = listed(unit["tag"])
    assert "Welcome" in unit["content"] and listed(unit["to"]) == [alice] and listed(unit["cc"]) == [course]
    assert mention["href"] == alice and mention["name"] == f"@alice@{fedify_host}"

    # Fedify sends a Note to our course; we verify its signature and record it.
    sent = httpx.post(f"{fedify}/_note", params={"to": course, "text": "Hello from Fedify"}, timeout=60)
    assert sent.status_code == 200, sent.text
    eventually(
        lambda: query(ours, "SELECT 1 FROM federation_inbox WHERE type = 'Create' AND actor = ?", alice),
        "Fedify's Create in our inbox", ours,
    )  # fmt: skip
    assert not [r for r in httpx.get(fedify + "/_received", timeout=10).json() if r["kind"] == "error"]


def test_a_forged_signature_in_fedify_actors_name_is_refused(instance_factory: InstanceFactory, fedify: str) -> None:
    ours = instance_factory("ours")
    ok(ours.cli("course", "import", str(FIXTURES / "courses" / "gentle-python")))
    alice = f"{fedify}/users/alice"
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{fedify}/forged/1",
        "type": "Follow",
        "actor": alice,
        "object": f"{ours.url}/courses/gentle-python",
    }
    body = json.dumps(activity).encode()
    inbox = f"{ours.url}/courses/gentle-python/inbox"
    # Signed with a key that is not alice's, under alice's key id: Fedify serves her real key.
    forger = SigningKey(key_id=f"{alice}#main-key", private_pem=generate_pem()[0])
    headers = {"Content-Type": "application/activity+json"}
    headers |= sign_request(forger, "POST", inbox, headers, body, datetime.now(UTC))
    answer = httpx.post(inbox, content=body, headers=headers, timeout=30)
    assert answer.status_code == 401, answer.text
    assert "signature" in answer.text.lower(), answer.text
    assert query(ours, "SELECT count(*) FROM federation_inbox") == [(0,)]


def test_a_fedify_learner_and_an_email_learner_talk_in_one_study_group(
    instance_factory: InstanceFactory, fedify: str
) -> None:
    """Issue 13 from the Fedify side: alice (Fedify) and Ann (email) are in one study group; Ann's mail
    reaches alice as a note written for her (verified and kept by Fedify), and alice's reply to it
    reaches Ann by mail."""
    secret = "fedify-group-secret"
    ours = instance_factory("ours", env={"MECHMOOC_SECRET_KEY": secret, "MECHMOOC_MAIL_DOMAIN": "lists.ours.example"})
    course = ok(ours.cli("course", "import", str(FIXTURES / "courses" / "gentle-python")))
    alice = f"{fedify}/users/alice"
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    run = ok(ours.cli("run", "create", "gentle-python", "--start", yesterday))
    ok(ours.cli("run", "enroll", run, "ann@example.org", "--name", "Ann"))
    handle = run.rsplit("/", 1)[1]
    joined = httpx.post(f"{fedify}/_follow", params={"target": f"@{handle}@{ours.host}"}, timeout=60)
    assert joined.status_code == 200, joined.text
    eventually(lambda: query(ours, "SELECT status FROM enrollments WHERE actor = ?", alice) == [("confirmed",)],
               "alice enrolled in the run", ours)  # fmt: skip
    ok(ours.cli("run", "group", run))
    shown = ours.cli("run", "show", run, "--json")
    assert shown.returncode == 0, shown.stderr
    (group,) = json.loads(shown.stdout)["groups"]
    members = query(ours, "SELECT COUNT(*) FROM enrollments WHERE group_id IS NOT NULL")
    assert members == [(2,)], members

    # Ann writes to the group's list (handed over by the mail provider's webhook).
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "Ann <ann@example.org>", group["address"], "Pairing?"
    mail["Message-ID"], mail["Return-Path"] = "<ann-fedify-1@example.org>", "<ann@example.org>"
    mail.set_content("Who wants to pair on the loops exercise?")
    token = hmac.new(secret.encode(), b"mail-webhook", hashlib.sha256).hexdigest()[:32]
    handed = httpx.post(f"{ours.url}/mail/webhooks/inbound?token={token}", content=mail.as_bytes(), timeout=30)
    assert handed.status_code == 200, handed.text

    # alice gets it as a note from the course, written for her alone; Fedify verified its signature.
    copies = eventually(
        lambda: [c for c in received(fedify, "Create") if "pair on the loops" in json.dumps(c["json"])],
        "Ann's post as a note at Fedify",
        ours,
    )
    note = copies[0]["json"]["object"]
    assert copies[0]["actor"] == course and listed(note["to"]) == [alice]
    assert any(tag.get("href") == alice for tag in listed(note["tag"]))

    # alice answers that note from Fedify: the reply is a post of the group, mailed to Ann.
    sent = httpx.post(
        f"{fedify}/_note",
        params={"to": course, "text": "Me! Tomorrow at noon?", "inReplyTo": note["id"]},
        timeout=60,
    )
    assert sent.status_code == 200, sent.text
    ((reply_id,),) = eventually(
        lambda: query(ours, "SELECT id FROM posts WHERE author_actor = ? AND text LIKE '%Tomorrow at noon%'", alice),
        "alice's reply stored as a group post",
        ours,
    )
    relayed = eventually(
        lambda: query(ours, "SELECT 1 FROM mail_outgoing WHERE to_addr = 'ann@example.org' AND post_id = ?", reply_id),
        "alice's reply relayed to Ann by mail",
        ours,
    )
    assert relayed
    assert not [r for r in httpx.get(fedify + "/_received", timeout=10).json() if r["kind"] == "error"]
