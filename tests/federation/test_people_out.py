"""What a local person's acts send to other servers (`federation.flows.status_out`, `graph_out`).

Each test publishes the community event the service would publish and reads the delivery rows.
Audiences are Mastodon's (`app/lib/activitypub/tag_manager.rb` `TagManager#to/#cc`;
`app/lib/status_reach_finder.rb` `StatusReachFinder#inboxes`: followers' inboxes, mentioned
accounts, the replied-to account for distributable replies; `RemovalWorker` / `Delete` reach the
same inboxes as the `Create`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.models import Block, Favourite, Follow, Mention, Status, StatusTag, Tag
from federation.flows.graph_out import record_follower
from federation.models import Follower, Following
from federation.protocol.statuses import PUBLIC
from server.floor import urls
from server.floor.clock import now
from server.floor.events import publish
from tests.federation.flows_support import deliveries
from tests.federation.people_support import local, remote, status


def _inboxes(session: Session, kind: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for row, body in deliveries(session, kind):
        found.setdefault(body["id"], set()).add(row.inbox)
    return found


def test_a_public_status_goes_to_followers_shared_inboxes_and_mentioned_inboxes(session: Session) -> None:
    ann = local(session, "ann")
    bob, dan = remote(session, "bob", "b.example"), remote(session, "dan", "d.example")
    record_follower(session, ann.uri, bob, "https://b.example/follows/1")
    post = status(session, ann, "Hi @dan@d.example #python", language="en", spoiler_text="cw")
    session.add_all([Mention(status_id=post.id, profile_id=dan.id), Tag(name="python", display_name="python")])
    session.flush()
    session.add(StatusTag(tag_id=session.scalar(select(Tag.id)), status_id=post.id))
    publish(session, "status.created", {"status_id": post.id})
    ((row, create),) = [(r, b) for r, b in deliveries(session, "Create")][:1]
    assert create["actor"] == ann.uri and create["object"]["id"] == urls.post(post.id)
    note = create["object"]
    assert note["to"] == [PUBLIC] and note["cc"] == [f"{ann.uri}/followers", dan.uri]
    assert note["summary"] == "cw" and note["sensitive"] is True and note["contentMap"] == {"en": post.html}
    assert {"type": "Mention", "href": dan.uri, "name": "@dan@d.example"} in note["tag"]
    assert {"type": "Hashtag", "href": urls.absolute("/tags/python"), "name": "#python"} in note["tag"]
    assert _inboxes(session, "Create") == {
        f"{urls.post(post.id)}/activity": {"https://b.example/inbox", "https://d.example/inbox"}
    }


def test_a_direct_status_reaches_only_the_mentioned(session: Session) -> None:
    ann = local(session, "ann")
    bob, dan = remote(session, "bob", "b.example"), remote(session, "dan", "d.example")
    record_follower(session, ann.uri, bob, None)
    post = status(session, ann, "psst", visibility="direct")
    session.add(Mention(status_id=post.id, profile_id=dan.id))
    publish(session, "status.created", {"status_id": post.id})
    (create,) = [b for _r, b in deliveries(session, "Create")]
    assert create["object"]["to"] == [dan.uri] and create["object"]["cc"] == []
    assert set().union(*_inboxes(session, "Create").values()) == {"https://d.example/inbox"}
    post.deleted = True
    publish(
        session,
        "status.deleted",
        {"status_id": post.id, "profile_id": ann.id, "ap_id": post.ap_id, "reblog_of_id": None},
    )
    assert set().union(*_inboxes(session, "Delete").values()) == {"https://d.example/inbox"}  # not to Bob's server


def test_a_followers_only_status_an_edit_and_a_delete_reach_the_same_servers(session: Session) -> None:
    ann = local(session, "ann")
    bob = remote(session, "bob", "b.example")
    record_follower(session, ann.uri, bob, None)
    post = status(session, ann, "friends only", visibility="private")
    publish(session, "status.created", {"status_id": post.id})
    (create,) = [b for _r, b in deliveries(session, "Create")]
    assert create["object"]["to"] == [f"{ann.uri}/followers"] and PUBLIC not in create["object"]["cc"]
    post.html, post.edited_at = "<p>friends only, edited</p>", now()
    publish(session, "status.updated", {"status_id": post.id})
    (update,) = [b for _r, b in deliveries(session, "Update")]
    assert update["object"]["content"] == "<p>friends only, edited</p>" and "updated" in update["object"]
    # Bob stops following; the Delete still reaches the server that got the Create (RemovalWorker).
    session.query(Follower).delete()
    post.deleted = True
    publish(
        session, "status.deleted", {"status_id": post.id, "profile_id": ann.id, "ap_id": None, "reblog_of_id": None}
    )
    ((row, delete),) = deliveries(session, "Delete")
    assert (
        delete["object"] == {"id": urls.post(post.id), "type": "Tombstone"} and row.inbox == "https://b.example/inbox"
    )


def test_a_boost_and_its_undo_a_like_and_its_undo_go_to_the_author(session: Session) -> None:
    ann, dan = local(session, "ann"), remote(session, "dan", "d.example")
    theirs = status(session, dan, "their words", ap_id="https://d.example/users/dan/statuses/1")
    boost = status(session, ann, "", reblog_of_id=theirs.id)
    publish(session, "status.created", {"status_id": boost.id})
    (announce,) = [b for _r, b in deliveries(session, "Announce")]
    assert announce["object"] == theirs.ap_id and announce["to"] == [PUBLIC] and dan.uri in announce["cc"]
    assert set().union(*_inboxes(session, "Announce").values()) == {"https://d.example/inbox"}
    publish(
        session,
        "status.deleted",
        {"status_id": boost.id, "profile_id": ann.id, "ap_id": None, "reblog_of_id": theirs.id},
    )
    (undo,) = [b for _r, b in deliveries(session, "Undo")]
    assert undo["object"]["type"] == "Announce" and undo["object"]["id"] == announce["id"]
    favourite = Favourite(profile_id=ann.id, status_id=theirs.id)
    session.add(favourite)
    session.flush()
    publish(session, "favourite.created", {"favourite_id": favourite.id})
    ((row, like),) = deliveries(session, "Like")
    assert like["object"] == theirs.ap_id and row.inbox == "https://d.example/inbox"
    publish(session, "favourite.deleted", {"profile_id": ann.id, "status_id": theirs.id, "uri": like["id"]})
    undos = [b for _r, b in deliveries(session, "Undo") if b["object"]["type"] == "Like"]
    assert undos and undos[0]["object"]["id"] == like["id"]


def test_a_remote_actors_acts_are_not_echoed(session: Session) -> None:
    ann, dan = local(session, "ann"), remote(session, "dan", "d.example")
    theirs = status(session, dan, "from afar", ap_id="https://d.example/users/dan/statuses/2")
    publish(session, "status.created", {"status_id": theirs.id})
    follow = Follow(profile_id=dan.id, target_id=ann.id, accepted=True)
    session.add(follow)
    session.flush()
    publish(session, "follow.created", {"follow_id": follow.id})
    assert deliveries(session) == []


def test_follows_both_ways_blocks_and_a_move(session: Session) -> None:
    ann, dan = local(session, "ann", locked=True), remote(session, "dan", "d.example")
    mine = Follow(profile_id=ann.id, target_id=dan.id, accepted=False)
    request = Follow(profile_id=dan.id, target_id=ann.id, accepted=False, uri="https://d.example/follows/9")
    session.add_all([mine, request])
    session.flush()
    publish(session, "follow.created", {"follow_id": mine.id})
    (follow,) = [b for _r, b in deliveries(session, "Follow")]
    assert follow["object"] == dan.uri and mine.uri == follow["id"]
    assert session.scalar(select(Following.state).where(Following.target == dan.uri)) == "pending"
    # Ann approves Dan's request: Accept naming his Follow, and he becomes a delivery follower.
    request.accepted = True
    publish(session, "follow.accepted", {"follow_id": request.id})
    (accept,) = [b for _r, b in deliveries(session, "Accept")]
    assert accept["object"]["id"] == "https://d.example/follows/9" and accept["object"]["actor"] == dan.uri
    assert (
        session.scalar(select(Follower.inbox).where(Follower.actor == ann.uri)) == "https://d.example/users/dan/inbox"
    )
    # Ann removes him: Reject; Ann unfollows him: Undo of her Follow.
    publish(session, "follow.deleted", {"profile_id": dan.id, "target_id": ann.id, "uri": request.uri})
    (reject,) = [b for _r, b in deliveries(session, "Reject")]
    assert reject["object"]["id"] == "https://d.example/follows/9"
    assert session.scalar(select(Follower.id)) is None
    publish(session, "follow.deleted", {"profile_id": ann.id, "target_id": dan.id, "uri": mine.uri})
    (undo,) = [b for _r, b in deliveries(session, "Undo")]
    assert undo["object"]["id"] == follow["id"] and undo["object"]["type"] == "Follow"
    block = Block(profile_id=ann.id, target_id=dan.id)
    session.add(block)
    session.flush()
    publish(session, "block.created", {"block_id": block.id})
    (blocked,) = [b for _r, b in deliveries(session, "Block")]
    assert blocked["object"] == dan.uri and block.uri == blocked["id"]
    new = local(session, "ann2")
    publish(session, "profile.moved", {"profile_id": ann.id, "target_id": new.id})
    assert [b for _r, b in deliveries(session, "Move")] == []  # nobody follows Ann any more: no inbox
    record_follower(session, ann.uri, dan, None)
    publish(session, "profile.moved", {"profile_id": ann.id, "target_id": new.id})
    (move,) = [b for _r, b in deliveries(session, "Move")]
    assert move["object"] == ann.uri and move["target"] == new.uri


def test_unknown_statuses_kinds_and_group_posts_are_left_to_their_own_flows(session: Session) -> None:
    ann = local(session, "ann")
    group_post = status(session, ann, "to my group", visibility="group", kind="group")
    publish(session, "status.created", {"status_id": group_post.id})
    publish(session, "status.created", {"status_id": 10**12})
    assert deliveries(session) == []
    assert session.scalar(select(Status.id).where(Status.id == group_post.id)) == group_post.id
