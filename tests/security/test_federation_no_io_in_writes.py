"""No network I/O inside a database write transaction (security issue, finding 2).

A transaction that has written holds SQLite's one write lock until it ends: a fetch inside it made
every write of the instance wait on the slowest remote server (up to the fetch deadline, again and
again). Each path that reads another server is driven here against a real HTTP server on
127.0.0.1, through its real entry point (the organizer's pages, the CLI, a signed POST to the inbox
and the inbox worker), while `watch` — wrapped around the SSRF transport every fetch goes through —
fails the test if a request leaves a thread whose transaction has written and not ended.
"""
# ruff: noqa: F811  (pytest fixtures imported from tests.security.no_io_support are test parameters)

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher, profiles
from click.testing import CliRunner
from sqlalchemy import delete, select, update
from starlette.testclient import TestClient

import server.floor.accounts
from courses.folder import import_course
from courses.models import Course, Enrollment, Post, Unit
from courses.versions import publish
from federation.entry import inbox
from federation.models import ActorKey, Follower, Following, InboxActivity, RemoteActor
from federation.transport import fetch
from federation.transport.delivery import deliver_due
from federation.transport.keys import instance_signing_key
from server.floor import urls
from server.floor.accounts import create_account
from server.floor.clock import now
from server.floor.db import session_scope, write_scope
from server.floor.settings import Settings
from server.roof.app import create_app
from server.roof.cli import main
from tests.federation.conftest import signed_post
from tests.federation.flows_support import GENTLE, course_and_run
from tests.security.no_io_support import FakeRemote, WriteWatch, fake, watch  # noqa: F401
from tests.web.conftest import PASSWORD, csrf_of, log_in

ACTIVITY_JSON = "application/activity+json"
NEW_WORDS = "Hello and welcome to the new edition."


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with its cheapest parameters (logging in is not what is tested here)."""
    monkeypatch.setattr(server.floor.accounts, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture
def site(settings: Settings) -> Iterator[TestClient]:
    """The whole app (pages and ActivityPub), logged in as organizer Olga, who is also person `olga`."""
    with session_scope() as db:
        create_account(db, "olga@example.org", PASSWORD, role="organizer", handle="olga")
    with TestClient(create_app(settings), base_url=settings.url) as client:
        assert log_in(client, "olga@example.org").status_code == 303
        yield client


def remote_course(site: TestClient, fake: FakeRemote) -> tuple[dict[str, Any], dict[str, Any]]:
    """gentle-python as the other server serves it, at version 1 (served now) and at version 2."""

    def served() -> dict[str, Any]:
        text = site.get("/courses/gentle-python", headers={"Accept": ACTIVITY_JSON}).text
        document: dict[str, Any] = json.loads(text.replace(str(site.base_url).rstrip("/"), fake.base))
        return document

    with session_scope() as db:
        publish(db, import_course(db, GENTLE))
    first = served()
    with session_scope() as db:
        course = db.scalar(select(Course).where(Course.slug == "gentle-python"))
        assert course is not None
        course.units[0].body = NEW_WORDS
        publish(db, course)
    second = served()
    with session_scope() as db:
        db.delete(db.scalar(select(Course).where(Course.slug == "gentle-python")))
    fake.serve(first)
    return first, second


def unit_body(slug: str) -> str:
    """The draft body of the first unit of local course `slug`."""
    with session_scope() as db:
        course = db.scalar(select(Course).where(Course.slug == slug))
        assert course is not None
        return db.scalars(select(Unit.body).where(Unit.course_id == course.id).order_by(Unit.position)).first() or ""


def test_the_guard_sees_a_fetch_made_inside_a_write_transaction(
    sqlite_settings: Settings, fake: FakeRemote, watch: WriteWatch
) -> None:
    actor, _key = fake.actor("alice")
    with session_scope() as db:
        key = instance_signing_key(db)
    fetch.get_json(actor, key)  # no transaction: fine
    with session_scope() as db:
        db.scalar(select(Course.id))
        fetch.get_json(actor, key)  # read, and a write may follow in the same transaction
    with write_scope() as db:
        create_account(db, "w@example.org", handle="w")
        fetch.get_json(actor, key)  # the very thing that must never happen
    seen = watch.take_violations()
    assert len(seen) == 2 and "open transaction" in seen[0] and "write transaction" in seen[1], seen
    assert watch.requests == [actor] * 3


def test_fork_then_upstream_diff_and_pull_from_the_organizer_pages(
    site: TestClient, fake: FakeRemote, watch: WriteWatch
) -> None:
    first, second = remote_course(site, fake)
    token = csrf_of(site, "/organize/remote")
    forked = site.post(
        "/organize/remote/fork",
        data={"csrf_token": token, "target": first["id"], "slug": "py-here"},
        follow_redirects=False,
    )
    assert forked.status_code == 303, forked.text
    assert "/courses/gentle-python" in fake.asked
    with session_scope() as db:
        assert db.scalar(select(Course.origin).where(Course.slug == "py-here")) == first["id"]

    fake.serve(second)
    fake.asked.clear()
    page = site.get("/courses/py-here/upstream")
    assert page.status_code == 200 and NEW_WORDS in page.text
    pulled = site.post(
        "/courses/py-here/upstream",
        data={"csrf_token": csrf_of(site, "/courses/py-here/upstream")},
        follow_redirects=False,
    )
    assert pulled.status_code == 303, pulled.text
    assert unit_body("py-here") == NEW_WORDS
    assert fake.asked.count("/courses/gentle-python") >= 2  # the diff and the pull each read the origin


def test_follow_by_handle_from_the_organizer_page_with_a_fresh_instance_key(
    site: TestClient, fake: FakeRemote, watch: WriteWatch
) -> None:
    alice, _key = fake.actor("alice")
    with session_scope() as db:  # the instance key is made on first use, by this very follow
        db.execute(delete(ActorKey).where(ActorKey.actor == urls.instance_actor()))
    token = csrf_of(site, "/organize/remote")
    followed = site.post(
        "/organize/remote/follow", data={"csrf_token": token, "target": f"@alice@{fake.host}"}, follow_redirects=False
    )
    assert followed.status_code == 303, followed.text
    assert any(path.startswith("/.well-known/webfinger") for path in fake.asked) and "/users/alice" in fake.asked
    with session_scope() as db:
        row = db.scalar(select(Following))
        assert row is not None and row.target == alice and row.actor == urls.person("olga")


@pytest.fixture
def cli_environment(sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI reads the same instance from its environment."""
    for name, value in {
        "DATA_DIR": str(sqlite_settings.data_dir),
        "URL": sqlite_settings.url,
        "INSECURE_HTTP": "1",
        "SECRET_KEY": sqlite_settings.secret_key,
        "MAIL_DOMAIN": sqlite_settings.mail_domain,
    }.items():
        monkeypatch.setenv(f"MECHMOOC_{name}", value)
    return sqlite_settings


def test_the_cli_follows_forks_pulls_and_posts(cli_environment: Settings, fake: FakeRemote, watch: WriteWatch) -> None:
    bob, _key = fake.actor("bob")
    with TestClient(create_app(cli_environment), base_url=cli_environment.url) as site:
        first, second = remote_course(site, fake)
    with session_scope() as db:
        create_account(db, "ada@example.org", handle="ada")
        db.execute(delete(ActorKey).where(ActorKey.actor == urls.instance_actor()))
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(main, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    assert cli("course", "follow", f"@bob@{fake.host}", "--as", "ada").strip().endswith(bob)
    assert "forked" in cli("course", "fork", first["id"], "--slug", "py-cli")
    fake.serve(second)
    assert NEW_WORDS in cli("course", "upstream", "py-cli")
    assert "upstream version 2" in cli("course", "pull-upstream", "py-cli")
    assert unit_body("py-cli") == NEW_WORDS
    post = cli("federation", "post", "ada", "Hello Bob", "--to", f"@bob@{fake.host}").strip()
    with session_scope() as db:
        assert db.scalar(select(Post.ap_id)) == post
    assert "/users/bob" in fake.asked and "/courses/gentle-python" in fake.asked


def inbox_client(settings: Settings) -> TestClient:
    """The whole app, for signed POSTs to its inbox."""
    return TestClient(create_app(settings), base_url=settings.url)


def outcomes() -> dict[str, str]:
    """Each worked inbox activity's type and outcome (or its error when it waits for a retry)."""
    with session_scope() as db:
        rows = db.scalars(select(InboxActivity).order_by(InboxActivity.id))
        return {row.type: row.outcome or f"{row.state}: {row.last_error}" for row in rows}


def test_the_inbox_worker_fetches_a_move_target_and_a_boosted_post_before_its_transaction(
    settings: Settings, fake: FakeRemote, watch: WriteWatch
) -> None:
    alice, alice_key = fake.actor("alice")
    moved, _ = fake.actor("alice2", alsoKnownAs=[alice])
    group, group_key = fake.actor("group", kind="Group")
    dan, _ = fake.actor("dan")
    note = {"id": f"{dan}/statuses/1", "type": "Note", "attributedTo": dan, "content": "<p>The real words</p>"}
    fake.serve(note)
    with session_scope() as db:
        for handle in ("ada", "bea"):
            create_account(db, f"{handle}@example.org", handle=handle)
        db.add(Following(actor=urls.person("ada"), target=alice, follow_id="f1", state="accepted"))
    move = {"id": f"{alice}#move", "type": "Move", "actor": alice, "object": alice, "target": moved}
    forged = {**note, "content": "<p>Words put in Dan's mouth</p>"}
    boost = {"id": f"{group}/boosts/1", "type": "Announce", "actor": group, "to": [urls.person("bea")],
             "object": {"id": f"{note['id']}/activity", "type": "Create", "actor": dan, "object": forged}}  # fmt: skip
    with inbox_client(settings) as client:
        assert signed_post(client, "/inbox", move, alice_key).status_code == 202
        assert signed_post(client, "/inbox", boost, group_key).status_code == 202
    fake.asked.clear()
    assert inbox.process_inbox() == 2
    done = outcomes()
    assert "1 local follow(s) moved" in done["Move"] and re.fullmatch(r"boosted post \d+ kept", done["Announce"]), done
    assert "/users/alice2" in fake.asked and "/users/dan/statuses/1" in fake.asked
    with session_scope() as db:
        assert db.scalar(select(Following.target)) == moved
        assert db.scalar(select(Post.html).where(Post.ap_id == note["id"])) == "<p>The real words</p>"


def test_the_inbox_worker_refreshes_a_stale_follower_and_joiner_before_its_transaction(
    settings: Settings, fake: FakeRemote, watch: WriteWatch
) -> None:
    lea, lea_key = fake.actor("lea")
    max_, max_key = fake.actor("max")
    with session_scope() as db:
        create_account(db, "bea@example.org", handle="bea")
        _course, run = course_and_run(db)
        run_id = urls.run(run.handle)
    join = {"id": f"{lea}#join", "type": "Join", "actor": lea, "object": run_id}
    follow = {"id": f"{max_}#follow", "type": "Follow", "actor": max_, "object": urls.person("bea")}
    with inbox_client(settings) as client:
        assert signed_post(client, "/inbox", join, lea_key).status_code == 202
        assert signed_post(client, "/inbox", follow, max_key).status_code == 202
    with session_scope() as db:  # cached a while ago: the handlers' actors must be fetched again
        db.execute(update(RemoteActor).values(fetched_at=now() - timedelta(days=2)))
    fake.asked.clear()
    assert inbox.process_inbox() == 2
    done = outcomes()
    assert done["Join"].startswith("Accept Join") and done["Follow"].endswith(" follows bea (accepted)"), done
    assert {"/users/lea", "/users/max"} <= set(fake.asked)
    with session_scope() as db:
        assert db.scalar(select(Enrollment.actor)) == lea
        assert db.scalar(select(Follower.follower).where(Follower.actor == urls.person("bea"))) == max_
        assert all(now() - row.fetched_at < timedelta(minutes=5) for row in db.scalars(select(RemoteActor)))
    watch.requests.clear()
    assert deliver_due() >= 2  # the Accepts go out (through the same guard), after their rows were committed
    assert watch.requests and all(url.endswith("/inbox") for url in watch.requests), watch.requests


def test_an_actor_that_cannot_be_fetched_is_retried_later_not_fetched_inside(
    settings: Settings, fake: FakeRemote, watch: WriteWatch
) -> None:
    lea, lea_key = fake.actor("lea")
    with session_scope() as db:
        _course, run = course_and_run(db)
        run_id = urls.run(run.handle)
    with inbox_client(settings) as client:
        join = {"id": f"{lea}#join", "type": "Join", "actor": lea, "object": run_id}
        assert signed_post(client, "/inbox", join, lea_key).status_code == 202
    with session_scope() as db:  # the cache lost it, and the server is gone meanwhile
        db.execute(delete(RemoteActor))
    del fake.documents["/users/lea"]
    assert inbox.process_inbox() == 1
    with session_scope() as db:
        row = db.scalar(select(InboxActivity))
        assert row is not None and row.state == "queued" and "NotCached" in (row.last_error or "")
        assert db.scalar(select(Enrollment.id)) is None
