"""Each inbox activity type, from captured real payloads re-signed with a key we control."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Post
from federation.entry import inbox
from federation.models import ActorBlock, Delivery, Follower, Following, InboxActivity, Like, RemoteActor, Report
from server.floor import urls
from tests.federation.conftest import InstanceClient, Remote, payload, signed_post
from tests.federation.test_inbox import make_course

ADMIN = "http://mastodon.example.org/users/admin"
LAIN = "http://localtesting.pleroma.lol/users/lain"
FELIX = "https://mastodon.madrid/users/felix"


def receive(client: InstanceClient, remote: Remote, name: str, replace: dict[str, str] | None = None) -> InboxActivity:
    """POST the payload `name` (references replaced) signed as its actor, apply it; its row."""
    text = json.dumps(payload(name))
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    activity: dict[str, Any] = json.loads(text)
    actor = activity["actor"] if isinstance(activity["actor"], str) else activity["actor"]["id"]
    key = remote.keys.get(actor) or remote.actor(actor)
    response = signed_post(client, "/inbox", activity, key)
    assert response.status_code == 202, response.text
    client.process_inbox()
    return row_of(inbox.activity_key(activity, actor, b""))


def row_of(activity_id: str) -> InboxActivity:
    from server.floor.db import session_scope

    with session_scope() as session:
        row = session.scalar(select(InboxActivity).where(InboxActivity.activity_id == activity_id))
        assert row is not None
        session.expunge(row)
        return row


def test_accept_and_reject_answer_our_follows(client: InstanceClient, session: Session, remote: Remote) -> None:
    me = urls.person("lain")
    session.add(Following(actor=me, target=ADMIN, follow_id=f"{me}#follows/4"))
    session.commit()
    row = receive(client, remote, "mastodon-accept-follow", {LAIN: me})
    assert row.state == "done" and "accepted" in row.outcome
    assert session.scalar(select(Following.state)) == "accepted"
    receive(client, remote, "mastodon-reject-follow", {LAIN: me, "#rejects": "#rejects2"})
    session.expire_all()
    assert session.scalar(select(Following.state)) == "rejected"


def test_accept_from_someone_else_changes_nothing(client: InstanceClient, session: Session, remote: Remote) -> None:
    me = urls.person("lain")
    session.add(Following(actor=me, target="https://other.example/users/x", follow_id=f"{me}#follows/4"))
    session.commit()
    row = receive(client, remote, "mastodon-accept-follow", {LAIN: me})
    assert row.outcome.startswith("ignored")
    assert session.scalar(select(Following.state)) == "pending"


def test_undo_follow_removes_the_follower(client: InstanceClient, session: Session, remote: Remote) -> None:
    course = make_course(session)
    asonix = "https://masto.asonix.dog/users/asonix"
    session.add(Follower(actor=course, follower=asonix, inbox=f"{asonix}/inbox"))
    session.commit()
    receive(client, remote, "mastodon-undo-follow", {"https://ds9.lemmy.ml/c/testcom": course})
    assert session.scalar(select(Follower)) is None


def test_update_person_refreshes_the_cache(client: InstanceClient, session: Session, remote: Remote) -> None:
    remote.actor("http://mastodon.example.org/users/gargron", name="Old name")
    row = receive(client, remote, "mastodon-update-person")
    assert row.state == "done"
    cached = session.scalar(select(RemoteActor).where(RemoteActor.ap_id.endswith("/gargron")))
    assert cached is not None and cached.name == payload("mastodon-update-person")["object"]["name"]


def test_delete_note_hides_the_post_and_delete_actor_forgets_it(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    note = "https://mastodon.madrid/users/felix/statuses/107773559874184870"
    course = make_course(session)
    session.add(
        Post(ap_id=note, kind="group", source="activitypub", author_actor=FELIX, text="hello", html="<p>hello</p>")
    )
    session.add(Follower(actor=course, follower=FELIX, inbox=f"{FELIX}/inbox"))
    session.commit()
    receive(client, remote, "mastodon-delete-note")
    post = session.scalar(select(Post))
    assert post is not None and post.deleted and post.text == ""
    delete_actor = {**payload("mastodon-delete-actor"), "actor": FELIX, "object": FELIX, "id": f"{FELIX}#delete"}
    assert signed_post(client, "/inbox", delete_actor, remote.keys[FELIX]).status_code == 202
    client.process_inbox()
    session.expire_all()
    assert session.scalar(select(Follower)) is None


def test_delete_of_a_post_by_someone_else_is_refused(client: InstanceClient, session: Session, remote: Remote) -> None:
    note = "https://mastodon.madrid/users/felix/statuses/107773559874184870"
    session.add(Post(ap_id=note, source="activitypub", author_actor="https://mastodon.madrid/users/other", text="x"))
    session.commit()
    receive(client, remote, "mastodon-delete-note")
    assert session.scalar(select(Post.deleted)) is False


def test_like_and_undo_like(client: InstanceClient, session: Session, remote: Remote) -> None:
    course = make_course(session)
    receive(client, remote, "mastodon-like", {"https://ds9.lemmy.ml/post/147": course})
    like = session.scalar(select(Like))
    assert like is not None and like.actor == FELIX and like.object == course
    receive(client, remote, "mastodon-undo-like", {"https://ds9.lemmy.ml/post/147": course})
    session.expire_all()
    assert session.scalar(select(Like)) is None


def test_flag_queues_a_report_for_the_admins(client: InstanceClient, session: Session, remote: Remote) -> None:
    me = urls.person("ada")
    receive(client, remote, "mastodon-flag", {"https://example.com/users/1": me})
    report = session.scalar(select(Report))
    assert report is not None and me in report.targets
    assert report.content == "Please take a look at this user and their posts"
    assert report.reporter == "https://mastodon.example/actor"


def test_block_cuts_follows_and_undo_lifts_it(client: InstanceClient, session: Session, remote: Remote) -> None:
    me = urls.person("lain")
    session.add(Follower(actor=me, follower=ADMIN, inbox=f"{ADMIN}/inbox"))
    session.add(Following(actor=me, target=ADMIN, follow_id=f"{me}#f1", state="accepted"))
    session.commit()
    receive(client, remote, "mastodon-block", {LAIN: me})
    assert session.scalar(select(ActorBlock.blocker)) == ADMIN
    assert session.scalar(select(Follower)) is None and session.scalar(select(Following)) is None
    receive(client, remote, "mastodon-undo-block", {LAIN: me})
    session.expire_all()
    assert session.scalar(select(ActorBlock)) is None


def test_move_follows_the_new_account(client: InstanceClient, session: Session, remote: Remote) -> None:
    alice, new = "https://mastodon.example/users/alice", "https://alice.com/users/109835986274379"
    remote.actor(alice)
    remote.actor(new, alsoKnownAs=[alice])
    me = urls.person("ada")
    session.add(Following(actor=me, target=alice, follow_id=f"{me}#f1", state="accepted"))
    session.commit()
    row = receive(client, remote, "mastodon-move")
    assert "1 local follow(s) moved" in row.outcome
    assert session.scalar(select(Following.target)) == new
    assert {json.loads(d.body)["type"] for d in session.scalars(select(Delivery))} == {"Follow", "Undo"}


def test_move_to_an_account_that_does_not_confirm_is_ignored(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    remote.actor("https://alice.com/users/109835986274379")
    row = receive(client, remote, "mastodon-move")
    assert "does not list" in row.outcome


@pytest.mark.parametrize(
    "name",
    [
        "mastodon-create-note-public",
        "mastodon-update-note",
        "mastodon-announce",
        "mastodon-undo-announce",
        "mobilizon-join-event",
        "mobilizon-leave-event",
        "misskey-like-reaction",
    ],
)
def test_activities_about_others_are_recorded_and_ignored_politely(
    client: InstanceClient, session: Session, remote: Remote, name: str
) -> None:
    row = receive(client, remote, name)
    assert row.state == "done" and row.outcome.startswith("ignored"), row.outcome


def test_unknown_type_is_recorded_and_ignored(client: InstanceClient, session: Session, remote: Remote) -> None:
    key = remote.actor(FELIX)
    activity = {"id": f"{FELIX}#arrive/1", "type": "Arrive", "actor": FELIX, "location": "Madrid"}
    assert signed_post(client, "/inbox", activity, key).status_code == 202
    client.process_inbox()
    row = row_of(activity["id"])
    assert row.state == "done" and row.outcome == "ignored: nothing here handles Arrive"
