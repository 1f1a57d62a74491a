"""shared/CONTRACT.md checked from outside: the `mechmooc` commands, the protocols and the mails of one
served instance (plus a second one to fork from), the way a script, a person or another server sees them."""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from federation.protocol.crypto import SigningKey
from federation.protocol.signatures import sign_request
from tests.conftest import FIXTURES
from tests.support.instances import Instance
from tests.support.smtp import SmtpSink

GENTLE = FIXTURES / "courses" / "gentle-python"
AS_JSON = "application/activity+json"
LD_JSON = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
RUN = "gentle-python-2026-12-07"


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    """The SMTP server course mails go to."""
    with SmtpSink() as smtp:
        yield smtp


@pytest.fixture(scope="module")
def alpha(tmp_path_factory: pytest.TempPathFactory, sink: SmtpSink) -> Iterator[Instance]:
    """The instance under audit: a course, a run from 2026-12-07 with two learners grouped."""
    with Instance(tmp_path_factory.mktemp("alpha"), env={"MECHMOOC_SMTP_URL": sink.url}) as instance:
        yield instance
    assert not instance.leftovers, "a worker or scheduler outlived serve"


@pytest.fixture(scope="module")
def beta(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """Another instance, to fork and follow alpha's course from."""
    with Instance(tmp_path_factory.mktemp("beta")) as instance:
        yield instance


def ok(done: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that must succeed."""
    assert done.returncode == 0, done.stderr
    return done.stdout


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    """The id a creating command prints alone on its last line."""
    return ok(done).strip().splitlines()[-1]


def refused(done: subprocess.CompletedProcess[str], *mentions: str) -> str:
    """The one-line error of a command that must fail (no traceback), naming what is at fault."""
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for mention in mentions:
        assert mention in lines[0], lines[0]
    return lines[0]


def as_activitypub(instance: Instance, path: str, accept: str = AS_JSON) -> dict[str, Any]:
    """GET `path` as ActivityPub, checking the answer's content type."""
    answer = instance.get(path, headers={"Accept": accept})
    assert answer.status_code == 200, (path, answer.text)
    assert answer.headers["content-type"].split(";")[0] in {"application/activity+json", "application/ld+json"}
    return dict(answer.json())


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """`check()` once it is truthy (background delivery takes a moment); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"{check} never held")


@pytest.fixture(scope="module")
def course(alpha: Instance) -> str:
    """The imported course's ActivityPub id."""
    return last_line(alpha.cli("course", "import", str(GENTLE)))


@pytest.fixture(scope="module")
def run(alpha: Instance, course: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The run's id, with Léa enrolled by URL, Max by CSV, both grouped."""
    run_id = last_line(alpha.cli("run", "create", "gentle-python", "--start", "2026-12-07", "--group-size", "2"))
    ok(alpha.cli("run", "enroll", run_id, "lea@example.org", "--name", "Léa", "--timezone", "Europe/Paris"))
    csv = tmp_path_factory.mktemp("csv") / "learners.csv"
    csv.write_text("email,name,timezone\nmax@example.org,Max,Europe/Berlin\n")
    assert last_line(alpha.cli("run", "import", RUN, str(csv))).split()[-1] == "1"
    ok(alpha.cli("run", "group", RUN))
    return run_id


def test_commands_print_ids_and_json(alpha: Instance, course: str, run: str) -> None:
    assert course == f"{alpha.url}/courses/gentle-python"
    assert run == f"{alpha.url}/runs/{RUN}"
    assert last_line(alpha.cli("user", "create", "ada@example.org", "--role", "admin", "--password", "s3cret-pw"))
    listed = json.loads(ok(alpha.cli("course", "list", "--json")))
    assert [(c["id"], c["units"]) for c in listed] == [(course, 7)] and {"forks", "followers"} <= set(listed[0])
    by_url, by_handle = (json.loads(ok(alpha.cli("run", "show", key, "--json"))) for key in (run, RUN))
    assert by_url == by_handle and by_url["learners"] == 2 and by_url["start"] == "2026-12-07"
    (group,) = by_url["groups"]
    assert group["address"].startswith(group["handle"] + "@")
    assert sorted(member["email"] for member in group["members"]) == ["lea@example.org", "max@example.org"]


def test_bad_input_is_one_line_and_non_zero(alpha: Instance, run: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("email,name,timezone\nok@example.org,Ok,UTC\nnope,No,UTC\n")
    cases: list[tuple[tuple[str, ...], str]] = [
        (("user", "create", "not-an-email"), "not-an-email"),
        (("course", "import", str(tmp_path / "nowhere")), "nowhere"),
        (("run", "create", "gentle-python", "--start", "2026-13-01"), "2026-13-01"),
        (("run", "create", "no-such-course", "--start", "2026-12-01"), "no-such-course"),
        (("run", "enroll", run, "bad-email"), "bad-email"),
        (("run", "enroll", RUN, "x@example.org", "--timezone", "Mars/Olympus"), "Mars/Olympus"),
        (("run", "show", f"{alpha.url}/runs/no-such-run"), "no-such-run"),
        # The id of another instance's run is not a local run, even with the same handle.
        (("run", "show", f"http://elsewhere.example/runs/{RUN}"), "elsewhere.example"),
        (("run", "import", RUN, str(tmp_path / "missing.csv")), "missing.csv"),
        (("mail", "send-due", "--now", "yesterday"), "yesterday"),
        (("stats", "no-such-run"), "no-such-run"),
        (("course", "fork", "not a handle"), "not a handle"),
    ]
    # Several at once, as scripts would while serve runs (each command boots in about a second).
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda case: alpha.cli(*case[0]), cases))
    for (_, mention), done in zip(cases, answers, strict=True):
        refused(done, mention)
    done = alpha.cli("run", "import", RUN, str(bad))
    assert done.returncode != 0 and "line 3" in done.stderr and "Traceback" not in done.stderr
    # Nothing half-written: the refused CSV enrolled nobody.
    assert json.loads(ok(alpha.cli("run", "show", RUN, "--json")))["learners"] == 2


def test_course_mails_are_multipart_list_mails(alpha: Instance, run: str, sink: SmtpSink) -> None:
    sent = last_line(alpha.cli("mail", "send-due", "--now", "2026-12-07T18:00:00Z"))
    assert sent.isdigit()
    received = eventually(lambda: sink.to("lea@example.org"))
    message = received[0].message
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["List-Id"] and message["Message-ID"] and message["Date"]
    assert f"{alpha.url}/mail/unsubscribe/" in message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    stats = json.loads(ok(alpha.cli("stats", run, "--json")))
    assert {"scheduled", "sent", "delivered", "bounced", "opened", "clicked", "unsubscribed", "replies"} <= set(
        stats["units"][0]
    )


def test_webfinger_nodeinfo_host_meta(alpha: Instance, run: str) -> None:
    group_handle = json.loads(ok(alpha.cli("run", "show", RUN, "--json")))["groups"][0]["handle"]
    for name, path in [
        ("gentle-python", "/courses/gentle-python"),
        (RUN, f"/runs/{RUN}"),
        (group_handle, f"/groups/{group_handle}"),
    ]:
        jrd = alpha.get("/.well-known/webfinger", params={"resource": f"acct:{name}@{alpha.host}"}).json()
        assert {"rel": "self", "type": AS_JSON, "href": alpha.url + path} in jrd["links"]
    assert alpha.get("/.well-known/webfinger", params={"resource": f"acct:nobody@{alpha.host}"}).status_code == 404
    link, link_2_0 = alpha.get("/.well-known/nodeinfo").json()["links"]
    assert link["rel"] == "http://nodeinfo.diaspora.software/ns/schema/2.1"
    assert link_2_0["rel"] == "http://nodeinfo.diaspora.software/ns/schema/2.0"
    assert httpx.get(link_2_0["href"], timeout=10).json()["version"] == "2.0"
    document = httpx.get(link["href"], timeout=10).json()
    assert document["version"] == "2.1" and document["protocols"] == ["activitypub"]
    users = document["usage"]["users"]
    assert 2 <= users["activeMonth"] <= users["activeHalfyear"] <= users["total"]  # the run's two learners
    assert "lrdd" in alpha.get("/.well-known/host-meta").text


def test_actors_keys_and_course_objects(alpha: Instance, run: str) -> None:
    group_handle = json.loads(ok(alpha.cli("run", "show", RUN, "--json")))["groups"][0]["handle"]
    ok(alpha.cli("user", "create", "cy@example.org"))
    for path in ["/actor", "/users/cy", "/courses/gentle-python", f"/runs/{RUN}", f"/groups/{group_handle}"]:
        for accept in (AS_JSON, LD_JSON):
            actor = as_activitypub(alpha, path, accept)
            assert actor["id"] == alpha.url + path
            assert all(actor.get(box) for box in ("inbox", "outbox", "followers")), actor
            assert actor["publicKey"]["id"] == f"{actor['id']}#main-key"
            assert "BEGIN PUBLIC KEY" in actor["publicKey"]["publicKeyPem"]
    version = as_activitypub(alpha, "/courses/gentle-python/versions/1")
    assert version["type"] in {"Article", "Page"} and version["name"] and version["summary"] and version["url"]
    assert version["forks"] == f"{alpha.url}/courses/gentle-python/forks"
    terms = alpha.get("/ns")
    assert terms.status_code == 200 and "@context" in terms.json()
    assert f"{alpha.url}/ns#" in json.dumps(version["@context"])


def test_a_bad_signature_answers_401(alpha: Instance, beta: Instance, course: str) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = forger.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    body = json.dumps(
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{beta.url}/forged/1",
            "type": "Follow",
            "actor": f"{beta.url}/actor",
            "object": course,
        }  # fmt: skip
    ).encode()
    inbox = f"{course}/inbox"
    headers = {"Content-Type": AS_JSON}
    headers |= sign_request(
        SigningKey(f"{beta.url}/actor#main-key", pem), "POST", inbox, headers, body, datetime.now(UTC)
    )
    assert httpx.post(inbox, content=body, headers=headers, timeout=10).status_code == 401
    assert httpx.post(inbox, content=body, headers={"Content-Type": AS_JSON}, timeout=10).status_code == 401


def test_fork_and_follow_from_another_instance(alpha: Instance, beta: Instance, course: str) -> None:
    fork = last_line(beta.cli("course", "fork", f"gentle-python@{alpha.host}", "--slug", "python-fork"))
    assert fork == f"{beta.url}/courses/python-fork"
    copied = as_activitypub(beta, "/courses/python-fork")
    assert copied["origin"] == course
    assert all(unit["origin"].startswith(f"{course}/units/") for unit in copied["units"])
    forks = eventually(lambda: as_activitypub(alpha, "/courses/gentle-python/forks")["totalItems"] and
                       as_activitypub(alpha, "/courses/gentle-python/forks"))  # fmt: skip
    assert forks["type"] == "OrderedCollection" and fork in json.dumps(forks["orderedItems"])
    assert last_line(beta.cli("course", "follow", course)) == course
    refused(beta.cli("course", "fork", f"{alpha.url}/courses/no-such-course"), "no-such-course")


def web_login(alpha: Instance, browser: httpx.Client, email: str) -> str:
    """Log `email` (an admin with password s3cret-pw) into the web pages; return a CSRF token."""
    assert last_line(alpha.cli("user", "create", email, "--role", "admin", "--password", "s3cret-pw"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
    assert token, "no CSRF field on /login"
    form = {"email": email, "password": "s3cret-pw", "csrf_token": token.group(1)}
    assert browser.post("/login", data=form).status_code == 303
    return token.group(1)


def test_the_course_folder_can_be_exported_from_the_web(alpha: Instance, course: str) -> None:
    """CONTRACT "everything here also has a web page": `course export` as a download for organizers."""
    with httpx.Client(base_url=alpha.url, timeout=10) as browser:
        web_login(alpha, browser, "orla@example.org")
        assert "export.zip" in browser.get("/organize/courses/gentle-python").text

        # `course list` counts forks and followers; so does the dashboard (beta forked and followed it).
        # Beta's Follow reaches alpha in the background, so the two are compared until they agree.
        def counted_alike() -> bool:
            (listed,) = json.loads(ok(alpha.cli("course", "list", "--json")))
            forks, followers = listed["forks"], listed["followers"]
            shown = f"· {forks} fork{'s' if forks != 1 else ''} · {followers} follower{'s' if followers != 1 else ''}"
            return shown in browser.get("/organize").text and forks == 1 and followers > 0

        assert eventually(counted_alike)
        answer = browser.get("/organize/courses/gentle-python/export.zip")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    for path in GENTLE.rglob("*.*"):
        assert archive.read(f"gentle-python/{path.relative_to(GENTLE).as_posix()}") == path.read_bytes()


def test_one_learner_can_be_enrolled_from_the_web(alpha: Instance, run: str) -> None:
    """CONTRACT "everything here also has a web page": `run enroll` as a form on the run's organizer page."""
    with httpx.Client(base_url=alpha.url, timeout=10) as browser:
        web_login(alpha, browser, "ines@example.org")
        page = browser.get(f"/organize/runs/{RUN}").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token and f"/organize/runs/{RUN}/enroll" in page
        # As `run enroll` does, an admin's web enroll skips the confirmation mail only with a stated lawful basis.
        form = {"csrf_token": token.group(1), "email": "web@example.org", "name": "Web", "timezone": "Mars/Olympus",
                "basis": "contract (contract test)"}  # fmt: skip
        browser.post(f"/organize/runs/{RUN}/enroll", data=form)
        assert "Mars/Olympus" in browser.get(f"/organize/runs/{RUN}").text
        assert browser.post(f"/organize/runs/{RUN}/enroll", data=form | {"timezone": "Asia/Tokyo"}).status_code == 303
    members = json.loads(ok(alpha.cli("run", "show", run, "--json")))
    assert members["learners"] == 3
