"""The inbox over HTTP: rejections (400/401/403/413), recording before effects, replays, key rotation."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses.models import Course
from federation.entry import inbox
from federation.models import Delivery, Follower, InboxActivity
from federation.protocol.crypto import SigningKey, generate_pem
from federation.transport.moderation import block_domain
from server.floor import urls
from server.floor.clock import now
from tests.federation.conftest import InstanceClient, Remote, payload, signed_post

ASONIX = "https://masto.asonix.dog/users/asonix"


def retarget(activity: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The payload with every mention of `old` (a remote id in the capture) pointed at `new`."""
    return json.loads(json.dumps(activity).replace(old, new))


def make_course(session: Session, slug: str = "gentle-python") -> str:
    """A local course; its actor id."""
    session.add(Course(slug=slug, title="Gentle Python", summary="Learn Python together."))
    session.commit()
    return urls.course(slug)


def follow_payload(course: str) -> dict[str, Any]:
    return retarget(payload("mastodon-follow"), "https://ds9.lemmy.ml/c/testcom", course)


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_mastodon_follow_is_recorded_then_accepted(client: InstanceClient, session: Session, remote: Remote) -> None:
    course = make_course(session)
    key = remote.actor(ASONIX)
    response = signed_post(client, "/inbox", follow_payload(course), key)
    assert response.status_code == 202
    row = session.scalar(select(InboxActivity))
    assert row is not None and row.type == "Follow" and row.state == "queued"
    assert count(session, Follower) == 0  # recorded before any effect

    assert client.process_inbox() == 1
    session.expire_all()
    follower = session.scalar(select(Follower))
    assert follower is not None and follower.actor == course and follower.follower == ASONIX
    assert follower.shared_inbox == "https://masto.asonix.dog/inbox"
    accept = session.scalar(select(Delivery))
    assert accept is not None and accept.inbox == "https://masto.asonix.dog/inbox" and accept.sender == course
    body = json.loads(accept.body)
    assert body["type"] == "Accept" and body["object"]["id"] == payload("mastodon-follow")["id"]


def test_replayed_post_is_a_no_op(client: InstanceClient, session: Session, remote: Remote) -> None:
    course = make_course(session)
    key = remote.actor(ASONIX)
    activity = follow_payload(course)
    assert signed_post(client, "/inbox", activity, key).status_code == 202
    assert signed_post(client, "/courses/gentle-python/inbox", activity, key).status_code == 202
    assert count(session, InboxActivity) == 1
    client.process_inbox()
    assert signed_post(client, "/inbox", activity, key).status_code == 202
    assert client.process_inbox() == 0
    assert count(session, Delivery) == 1


def test_unsigned_post_is_refused(client: InstanceClient, session: Session, remote: Remote) -> None:
    remote.actor(ASONIX)
    response = client.post(
        "/inbox", json=follow_payload(make_course(session)), headers={"Content-Type": "application/activity+json"}
    )
    assert response.status_code == 401 and "not signed" in response.json()["error"]
    assert count(session, InboxActivity) == 0


def test_body_tampered_after_signing_is_refused(client: InstanceClient, session: Session, remote: Remote) -> None:
    course = make_course(session)
    key = remote.actor(ASONIX)
    activity = follow_payload(course)
    tampered = json.dumps(activity | {"object": urls.person("someone-else")}).encode()
    response = signed_post(client, "/inbox", activity, key, body=tampered)
    assert response.status_code == 401 and "Digest" in response.json()["error"]
    assert count(session, InboxActivity) == 0


def test_activity_signed_by_someone_else_is_taken_but_never_believed(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    # A forward (item 8 of issue 13): 202, so the forwarder does not retry for days; a Follow cannot
    # be checked at its origin, so it does nothing (tests/federation/test_forwarded.py for the rest).
    course = make_course(session)
    remote.actor(ASONIX)
    mallory = remote.actor("https://evil.example/users/mallory")
    response = signed_post(client, "/inbox", follow_payload(course), mallory)
    assert response.status_code == 202
    row = session.scalar(select(InboxActivity))
    assert row is not None and row.forwarded_by == "https://evil.example/users/mallory" and row.actor == ASONIX
    assert client.process_inbox() == 1
    session.expire_all()
    assert count(session, Follower) == 0 and count(session, Delivery) == 0
    assert "cannot be checked at its origin" in (session.scalar(select(InboxActivity.outcome)) or "")


def test_key_that_does_not_match_the_published_one_is_refused(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    course = make_course(session)
    remote.actor(ASONIX)
    forged = SigningKey(key_id=f"{ASONIX}#main-key", private_pem=generate_pem()[0])
    response = signed_post(client, "/inbox", follow_payload(course), forged)
    assert response.status_code == 401 and "does not verify" in response.json()["error"]


def test_stale_signature_is_refused(client: InstanceClient, session: Session, remote: Remote) -> None:
    key = remote.actor(ASONIX)
    response = signed_post(client, "/inbox", follow_payload(make_course(session)), key, at=now() - timedelta(hours=3))
    assert response.status_code == 401 and "hour" in response.json()["error"]


def test_rotated_key_is_refetched_once(client: InstanceClient, session: Session, remote: Remote) -> None:
    course = make_course(session)
    remote.actor(ASONIX)
    assert signed_post(client, "/inbox", follow_payload(course), remote.keys[ASONIX]).status_code == 202
    fetched = len(remote.fetches)
    new_key = remote.rotate(ASONIX)
    undo = retarget(payload("mastodon-undo-follow"), "https://ds9.lemmy.ml/c/testcom", course)
    assert signed_post(client, "/inbox", undo, new_key).status_code == 202
    assert len(remote.fetches) == fetched + 1


def test_blocked_domain_is_refused(client: InstanceClient, session: Session, remote: Remote) -> None:
    key = remote.actor(ASONIX)
    block_domain(session, "asonix.dog", "spam")
    session.commit()
    response = signed_post(client, "/inbox", follow_payload(make_course(session)), key)
    assert response.status_code == 403
    assert remote.fetches == []  # refused before fetching anything from them


def test_malformed_and_oversized_bodies(client: InstanceClient, session: Session, remote: Remote) -> None:
    key = remote.actor(ASONIX)
    assert (
        client.post("/inbox", content=b"{not json", headers={"Content-Type": "application/activity+json"}).status_code
        == 400
    )
    assert signed_post(client, "/inbox", b'["a list"]', key).status_code == 400
    huge = json.dumps(follow_payload(make_course(session)) | {"padding": "x" * (inbox.MAX_BODY + 1)}).encode()
    assert signed_post(client, "/inbox", huge, key).status_code == 413
    assert count(session, InboxActivity) == 0


def test_a_block_applies_to_the_next_post_of_a_known_sender(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    """Blocks are read on every request, not cached with the sender's key: no grace period."""
    from federation.transport.moderation import block_actor, unblock_domain

    course = make_course(session)
    key = remote.actor(ASONIX)
    assert signed_post(client, "/inbox", follow_payload(course) | {"id": f"{ASONIX}#1"}, key).status_code == 202
    block_domain(session, "masto.asonix.dog")
    session.commit()
    assert signed_post(client, "/inbox", follow_payload(course) | {"id": f"{ASONIX}#2"}, key).status_code == 403
    unblock_domain(session, "masto.asonix.dog")
    block_actor(session, ASONIX)
    session.commit()
    assert signed_post(client, "/inbox", follow_payload(course) | {"id": f"{ASONIX}#3"}, key).status_code == 403
    assert count(session, InboxActivity) == 1


def test_blocked_actor_is_refused(client: InstanceClient, session: Session, remote: Remote) -> None:
    from federation.transport.moderation import block_actor

    key = remote.actor(ASONIX)
    block_actor(session, ASONIX)
    session.commit()
    assert signed_post(client, "/inbox", follow_payload(make_course(session)), key).status_code == 403


def test_rfc9421_signed_post_is_accepted(client: InstanceClient, session: Session, remote: Remote) -> None:
    from federation.protocol.signatures import sign_rfc9421

    course = make_course(session)
    key = remote.actor(ASONIX)
    body = json.dumps(follow_payload(course)).encode()
    headers = {"Content-Type": "application/activity+json"}
    headers |= sign_rfc9421(key, "POST", str(client.base_url).rstrip("/") + "/inbox", headers, body, now())
    assert client.post("/inbox", content=body, headers=headers).status_code == 202
    tampered = body.replace(b"Follow", b"Block!")
    assert client.post("/inbox", content=tampered, headers=headers).status_code == 401


def test_every_activity_wakes_the_worker_even_while_others_wait(
    client: InstanceClient, session: Session, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: the inbox woke nobody while another activity was due, so one that came in after the
    running job's last claim waited for the next tick (28 s). server.floor.jobs coalesces the messages."""
    woken: list[str] = []
    monkeypatch.setattr(inbox, "wake", woken.append)
    course = make_course(session)
    key = remote.actor(ASONIX)
    for n in range(3):
        activity = follow_payload(course) | {"id": f"{ASONIX}#follows/{n}"}
        assert signed_post(client, "/inbox", activity, key).status_code == 202
    assert woken == [inbox.JOB] * 3
    assert signed_post(client, "/inbox", follow_payload(course) | {"id": f"{ASONIX}#follows/0"}, key).status_code == 202
    assert woken == [inbox.JOB] * 3  # a duplicate changes nothing and wakes nobody


def test_delete_of_a_vanished_actor_is_accepted_and_dropped(client: InstanceClient, session: Session) -> None:
    gone = "https://gone.example/users/old"
    key = SigningKey(key_id=f"{gone}#main-key", private_pem=generate_pem()[0])
    activity = {"id": f"{gone}#delete", "type": "Delete", "actor": gone, "object": gone}
    assert signed_post(client, "/inbox", activity, key).status_code == 202
    assert count(session, InboxActivity) == 0


def test_inbox_of_nobody_is_404(client: InstanceClient, session: Session, remote: Remote) -> None:
    key = remote.actor(ASONIX)
    activity = follow_payload(urls.course("gentle-python"))
    assert signed_post(client, "/courses/nothing-here/inbox", activity, key).status_code == 404
    make_course(session)
    assert signed_post(client, "/courses/gentle-python/inbox", activity, key).status_code == 202


def test_an_activity_id_of_another_server_cannot_be_squatted(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    course = make_course(session)
    mallory = remote.actor("https://evil.example/users/mallory")
    genuine = follow_payload(course)
    squatted = genuine | {"actor": "https://evil.example/users/mallory"}
    assert signed_post(client, "/inbox", squatted, mallory).status_code == 202
    assert signed_post(client, "/inbox", genuine, remote.actor(ASONIX)).status_code == 202
    assert count(session, InboxActivity) == 2
    assert session.scalar(select(InboxActivity.id).where(InboxActivity.activity_id == genuine["id"])) is not None


def test_a_concurrent_writer_does_not_strand_an_activity(
    client: InstanceClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A handler reads, another process commits, the handler writes: on SQLite a deferred transaction
    # then failed with "database is locked", the inbox job stopped and the activity sat out its lease.
    from federation.entry import handlers
    from federation.entry.handlers import Inbound, handles
    from server.floor.db import session_scope
    from server.floor.events import DomainEvent

    handlers.load()
    monkeypatch.setitem(handlers._registry, "TestConcurrentWrite", [])  # this test's handler, this test only

    outside: list[threading.Thread] = []

    def write_elsewhere() -> None:
        with session_scope() as other:
            other.add(DomainEvent(name="test.outside", payload={}, created_at=now()))

    @handles("TestConcurrentWrite")
    def handler(inbound: Inbound) -> str:
        inbound.session.scalar(select(func.count()).select_from(DomainEvent))
        thread = threading.Thread(target=write_elsewhere)
        thread.start()
        thread.join(timeout=1.5)  # done at once unless our transaction holds the write lock
        outside.append(thread)
        inbound.session.add(DomainEvent(name="test.inside", payload={}, created_at=now()))
        return "written"

    for n in range(2):
        session.add(
            InboxActivity(
                activity_id=f"https://remote.example/activities/{n}",
                type="TestConcurrentWrite",
                actor="https://remote.example/users/a",
                payload={"type": "TestConcurrentWrite", "id": f"https://remote.example/activities/{n}"},
                next_attempt_at=now(),
                received_at=now(),
            )
        )
    session.commit()
    assert client.process_inbox() == 2
    for thread in outside:
        thread.join(timeout=30)
    session.expire_all()
    assert [row.outcome for row in session.scalars(select(InboxActivity))] == ["written", "written"]
    names = sorted(session.scalars(select(DomainEvent.name).where(DomainEvent.name.like("test.%"))))
    assert names == ["test.inside", "test.inside", "test.outside", "test.outside"]
