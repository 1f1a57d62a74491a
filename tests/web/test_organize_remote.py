"""Fork a course of another instance from the organizer's page, see its provenance, then the upstream
change as a diff and pull it — two real `mechmooc serve` instances on 127.0.0.1."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.support.instances import Instance

pytestmark = pytest.mark.slow
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


def _posted_confirmation_link(instance: Instance, sender: Instance, timeout: float = 45) -> str:
    """The confirmation link in the direct post a person on `instance` received from `sender`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # These instances run no worker: deliver on the sender, apply the inbox on the receiver.
        sender.cli("federation", "work")
        instance.cli("federation", "work")
        with sqlite3.connect(instance.data_dir / "mechmooc.sqlite3") as db:
            rows = [row[0] for row in db.execute("SELECT html FROM posts") if "/signup/confirm/" in row[0]]
        if rows:
            found = re.search(r'href="([^"]*/signup/confirm/[^"]+)"', rows[0])
            assert found, rows[0]
            return found.group(1)
        time.sleep(0.5)
    with sqlite3.connect(sender.data_dir / "mechmooc.sqlite3") as db:
        sent = db.execute("SELECT inbox, state, attempts, last_error FROM federation_deliveries").fetchall()
    raise AssertionError(f"no confirmation post arrived; the sender's deliveries: {sent}\n{sender.logs()[-6000:]}")


def browser(instance: Instance, email: str, role: str) -> httpx.Client:
    """A logged-in client (cookies kept) for a new account with `role` on `instance`."""
    created = instance.cli("user", "create", email, "--password", PASSWORD, "--role", role)
    assert created.returncode == 0, created.stderr
    client = httpx.Client(base_url=instance.url, timeout=30)
    submit(client, "/login", "/login", {"email": email, "password": PASSWORD})
    return client


def submit(client: httpx.Client, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    """POST a form with the CSRF token of `page`; the answer (redirects not followed)."""
    token = CSRF.search(client.get(page).text)
    assert token, f"no form on {page}"
    return client.post(action, data={"csrf_token": token.group(1), **data})


def test_fork_from_another_instance_then_see_and_pull_the_upstream_change(tmp_path: Path) -> None:
    with Instance(tmp_path / "a", worker=False) as origin, Instance(tmp_path / "b", worker=False) as here:
        assert origin.cli("course", "import", str(FIXTURES / "courses" / "gentle-python")).returncode == 0
        ada = browser(origin, "ada@example.org", "admin")
        editor = "/organize/courses/gentle-python"
        assert submit(ada, editor, f"{editor}/publish", {}).status_code == 303

        bob = browser(here, "bob@example.org", "organizer")
        course_id = f"{origin.url}/courses/gentle-python"
        forked = submit(bob, "/organize/remote", "/organize/remote/fork", {"target": course_id, "slug": "py-b"})
        assert forked.status_code == 303 and forked.headers["location"] == "/organize/courses/py-b"
        page = bob.get("/courses/py-b").text
        assert "Where this course comes from" in page and f'href="{course_id}"' in page
        assert "Upstream changed" not in page

        unit = f"{editor}/units/welcome"
        changed = {"title": "Welcome, everyone", "day": "0", "body": "Hello and welcome to the new edition."}
        assert submit(ada, unit, unit, changed).status_code == 303
        assert submit(ada, editor, f"{editor}/publish", {}).status_code == 303

        diff = bob.get("/courses/py-b/upstream")
        assert diff.status_code == 200
        assert '<span class="add">+Hello and welcome to the new edition.</span>' in diff.text
        assert '<span class="add">+title: Welcome, everyone</span>' in diff.text
        assert "Upstream changed" in bob.get("/courses/py-b").text  # seeing the diff noted the new version
        pulled = submit(bob, "/courses/py-b/upstream", "/courses/py-b/upstream", {})
        assert pulled.status_code == 303
        draft = bob.get("/organize/courses/py-b/units/welcome").text
        assert "Hello and welcome to the new edition." in draft
        assert "Upstream changed" not in bob.get("/courses/py-b").text
        assert "Your draft and the origin agree" in bob.get("/courses/py-b/upstream").text

        # Bob, a person on the other instance, joins a run of the origin with his fediverse handle.
        created = origin.cli("run", "create", "gentle-python", "--start", "2099-01-05")
        run = created.stdout.strip().splitlines()[-1].rstrip("/").rsplit("/", 1)[-1]
        visitor = httpx.Client(base_url=origin.url, timeout=30)
        joined = submit(visitor, f"/runs/{run}", f"/runs/{run}/signup", {"handle": f"@bob@{here.host}"})
        assert joined.status_code == 303 and joined.headers["location"].endswith("?by=fediverse")
        # Anyone can type Bob's handle: he is in once he opens the link posted to him directly.
        assert json.loads(origin.cli("run", "show", run, "--json").stdout)["learners"] == 0
        link = _posted_confirmation_link(here, origin)
        assert link.startswith(f"{origin.url}/signup/confirm/")
        confirmed = submit(visitor, link.removeprefix(origin.url), link.removeprefix(origin.url), {})
        assert confirmed.status_code in {200, 303}, confirmed.text
        shown = json.loads(origin.cli("run", "show", run, "--json").stdout)
        assert shown["learners"] == 1
        unknown = submit(visitor, f"/runs/{run}", f"/runs/{run}/signup", {"handle": f"@nobody@{here.host}"})
        assert unknown.status_code == 400 and 'id="f-handle-error"' in unknown.text
