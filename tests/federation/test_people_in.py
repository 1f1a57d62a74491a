"""Activities from other servers about local people, applied through community's services.

Real Mastodon, Misskey and Pixelfed payloads, re-pointed at local people, go through the inbox
handlers as the worker runs them (what they need fetched first, with our fetch mocked by
`remote`). The rules each test pins are Mastodon's: `app/lib/activitypub/activity/create.rb`
(`Create#process_status`; kept only when it concerns someone here), `follow.rb` (`Follow#perform`:
locked -> request, else `Accept`), `accept.rb`, `update.rb` (`Update#update_status`), `delete.rb`
(`Delete#delete_note`, `#delete_person`), `announce.rb` (`Announce#related_to_local_activity?`),
`like.rb`, `undo.rb`, `block.rb`, `move.rb` (`Move#perform`: the target's `alsoKnownAs`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import graph
from community import statuses as community_statuses
from community.models import Block, Favourite, Follow, Media, Notification, Profile, Status, StatusEdit
from federation.flows.people import profile_from_cache
from server.floor import urls
from tests.federation.conftest import Remote, payload
from tests.federation.flows_support import deliveries, receive
from tests.federation.people_support import local, status

FELIX = "https://mastodon.madrid/users/felix"
JOHN = "https://mastodon/users/john"


def fixture(name: str, replace: dict[str, str] | None = None) -> dict[str, Any]:
    """A captured payload with some references re-pointed (e.g. at a local person)."""
    text = json.dumps(payload(name))
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    return dict(json.loads(text))


def follower_of(session: Session, remote: Remote, local_profile: Profile, actor: str) -> Profile:
    """`actor` (a fetchable remote person) followed by `local_profile`, accepted."""
    remote.actor(actor)
    receive(session, {"id": f"{actor}#probe", "type": "Update", "actor": actor, "object": {"id": "x"}})
    profile = profile_from_cache(session, actor)
    session.add(Follow(profile_id=local_profile.id, target_id=profile.id, accepted=True))
    session.flush()
    return profile


def test_a_follow_of_an_unlocked_person_is_accepted_and_of_a_locked_one_is_a_request(
    session: Session, remote: Remote
) -> None:
    ann, bob = local(session, "ann"), local(session, "bob", locked=True)
    asonix = "https://masto.asonix.dog/users/asonix"
    remote.actor(asonix)
    outcome = receive(session, fixture("mastodon-follow", {"https://ds9.lemmy.ml/c/testcom": ann.uri}))
    assert "follows ann (accepted)" in outcome, outcome
    row = session.scalar(select(Follow).where(Follow.target_id == ann.id))
    assert row is not None and row.accepted and row.uri == payload("mastodon-follow")["id"]
    ((_r, accept),) = deliveries(session, "Accept")
    assert accept["actor"] == ann.uri and accept["object"]["id"] == row.uri
    assert session.scalar(select(Notification.type).where(Notification.profile_id == ann.id)) == "follow"
    follow_bob = fixture("mastodon-follow", {"https://ds9.lemmy.ml/c/testcom": bob.uri, "1ea87517": "2ea87517"})
    assert "follow request" in receive(session, follow_bob)
    request = session.scalar(select(Follow).where(Follow.target_id == bob.id))
    assert request is not None and not request.accepted and len(deliveries(session, "Accept")) == 1
    graph.accept(session, request)  # bob approves: the Accept goes now, naming the Follow
    assert [b["object"]["id"] for _r, b in deliveries(session, "Accept")][-1] == follow_bob["id"]
    undo = {"id": f"{asonix}#undo-1", "type": "Undo", "actor": asonix, "object": follow_bob}
    assert "unfollowed bob" in receive(session, undo)
    assert session.scalar(select(Follow).where(Follow.target_id == bob.id)) is None
    assert deliveries(session, "Reject") == []  # their own Undo is not answered


def test_statuses_are_kept_when_they_matter_here_and_dropped_otherwise(session: Session, remote: Remote) -> None:
    ann = local(session, "ann")
    # Nobody here follows John: his public note is about others.
    assert receive(session, fixture("mastodon-create-note-flow")).startswith("ignored")
    assert session.scalar(select(Status.id)) is None
    # Ann follows Felix: his unlisted reply is kept, with its language and visibility.
    follower_of(session, remote, ann, FELIX)
    outcome = receive(session, payload("mastodon-create-note-unlisted-reply"))
    kept = session.scalar(select(Status).where(Status.profile_id.is_not(None)))
    assert kept is not None and outcome == f"status {kept.id} kept"
    assert kept.visibility == "unlisted" and kept.language == "en" and not kept.local
    assert kept.in_reply_to_ref == "https://mamot.fr/users/retiolus/statuses/107224244380204526"
    # A note that mentions Ann (the Pixelfed photo re-pointed at her) is kept for her, with its image.
    photo = fixture("pixelfed-create-note-image")
    photo["object"]["tag"].append({"type": "Mention", "href": ann.uri, "name": "@ann@testserver.localhost"})
    remote.actor(photo["actor"])
    assert "kept" in receive(session, photo)
    pic = session.scalar(select(Status).where(Status.ap_id == photo["object"]["id"]))
    assert pic is not None
    media = session.scalar(select(Media).where(Media.status_id == pic.id))
    assert (
        media is not None
        and media.remote_url.startswith("https://pxscdn.com/")
        and media.description.startswith("Stickers")
    )
    assert session.scalar(select(Notification.type).where(Notification.status_id == pic.id)) == "mention"


def test_a_reply_to_a_local_status_shows_in_its_thread(session: Session, remote: Remote) -> None:
    ann = local(session, "ann")
    mine = status(session, ann, "What are you learning?", ap_id=None)
    mine.ap_id, mine.thread_id = urls.post(mine.id), mine.id
    remote.actor(JOHN)
    reply = fixture("mastodon-create-note-flow")
    reply["object"]["inReplyTo"] = mine.ap_id
    assert "kept" in receive(session, reply)
    _ancestors, descendants = community_statuses.context(session, mine, ann)
    assert [s.ap_id for s in descendants] == [reply["object"]["id"]]
    assert session.scalar(select(Notification.type).where(Notification.profile_id == ann.id)) == "reply"


def test_an_edit_keeps_history_and_a_delete_removes_the_status(session: Session, remote: Remote) -> None:
    ann = local(session, "ann")
    follower_of(session, remote, ann, JOHN)
    assert "kept" in receive(session, fixture("mastodon-create-note-flow"))
    outcome = receive(session, fixture("mastodon-update-note"))
    kept = session.scalar(select(Status).where(Status.ap_id == "https://mastodon/users/john/statuses/9876"))
    assert kept is not None and outcome == f"status {kept.id} edited" and kept.edited_at is not None
    assert kept.html == "<p>Creating Test Data!!! :)</p><p>By updating it 🆕</p>"
    versions = session.scalars(select(StatusEdit.html).where(StatusEdit.status_id == kept.id).order_by(StatusEdit.id))
    assert list(versions) == ["<p>Creating Test Data!!! :)</p>", kept.html]
    # Someone else cannot delete it; its author can.
    other = "https://evil.example/users/x"
    remote.actor(other)
    forged = {"id": f"{other}#d", "type": "Delete", "actor": other, "object": {"id": kept.ap_id, "type": "Tombstone"}}
    assert receive(session, forged).startswith("ignored")
    delete = {"id": f"{JOHN}#d", "type": "Delete", "actor": JOHN, "object": {"id": kept.ap_id, "type": "Tombstone"}}
    assert receive(session, delete) == f"status {kept.id} deleted"
    session.refresh(kept)
    assert kept.deleted and kept.html == ""


def test_likes_and_boosts_of_a_local_status_and_their_undo(session: Session, remote: Remote) -> None:
    ann = local(session, "ann")
    mine = status(session, ann, "Boost me")
    mine.ap_id = urls.post(mine.id)
    session.flush()
    remote.actor(FELIX)
    like = fixture("mastodon-like", {"https://ds9.lemmy.ml/post/147": mine.ap_id})
    assert "favourited" in receive(session, like)
    assert session.scalar(select(Favourite.uri)) == like["id"]
    undo = fixture("mastodon-undo-like", {"https://ds9.lemmy.ml/post/147": mine.ap_id})
    assert "unfavourited" in receive(session, undo) and session.scalar(select(Favourite.id)) is None
    admin = "http://mastodon.example.org/users/admin"
    remote.actor(admin)
    announce = fixture("mastodon-announce", {"http://mastodon.example.org/@admin/99541947525187367": mine.ap_id})
    outcome = receive(session, announce)
    boost = session.scalar(select(Status).where(Status.reblog_of_id == mine.id))
    assert boost is not None and outcome == f"boost {boost.id} of status {mine.id}" and boost.ap_id == announce["id"]
    assert session.scalar(
        select(Notification.type).where(Notification.status_id == mine.id, Notification.type == "reblog")
    )
    undo_boost = {"id": f"{announce['id']}#undo", "type": "Undo", "actor": admin, "object": announce}
    assert "undone" in receive(session, undo_boost)
    session.refresh(boost)
    assert boost.deleted


def test_accept_of_our_follow_a_block_and_a_move(session: Session, remote: Remote) -> None:
    ann = local(session, "ann")
    admin = "http://mastodon.example.org/users/admin"
    remote.actor(admin)
    receive(session, {"id": f"{admin}#probe", "type": "Update", "actor": admin, "object": {"id": "x"}})
    target = profile_from_cache(session, admin)
    mine = graph.follow(session, ann, target)  # sends the Follow (graph_out), pending
    assert not mine.accepted and mine.uri
    accept = fixture("mastodon-accept-follow", {"http://localtesting.pleroma.lol/users/lain#follows/4": mine.uri,
                                                "http://localtesting.pleroma.lol/users/lain": ann.uri})  # fmt: skip
    assert "accepted" in receive(session, accept)
    session.refresh(mine)
    assert mine.accepted
    # Admin blocks Ann: her follow ends, the block is kept; its Undo lifts it.
    assert "blocks ann" in receive(
        session, fixture("mastodon-block", {"http://localtesting.pleroma.lol/users/lain": ann.uri})
    )
    assert graph.get_follow(session, ann.id, target.id) is None
    assert session.scalar(select(Block.id).where(Block.profile_id == target.id)) is not None
    assert "unblocked" in receive(
        session, fixture("mastodon-undo-block", {"http://localtesting.pleroma.lol/users/lain": ann.uri})
    )
    # Ann follows Alice, who moves to an account that names her in alsoKnownAs.
    alice, new = "https://mastodon.example/users/alice", "https://alice.com/users/109835986274379"
    old = follower_of(session, remote, ann, alice)
    remote.actor(new, alsoKnownAs=[alice])
    outcome = receive(session, payload("mastodon-move"))
    assert "1 local person(s) now follow" in outcome, outcome
    moved_to = session.scalar(select(Profile).where(Profile.uri == new))
    assert moved_to is not None and graph.get_follow(session, ann.id, moved_to.id) is not None
    assert graph.get_follow(session, ann.id, old.id) is None
    session.refresh(old)
    assert old.moved_to_id == moved_to.id


def test_a_mention_by_page_url_and_a_gotosocial_reply_reach_the_local_person(session: Session, remote: Remote) -> None:
    ann = local(session, "ann")
    remote.actor(JOHN)
    note = fixture("mastodon-create-note-flow")
    note["object"]["tag"] = [{"type": "Mention", "href": urls.absolute("/@ann"), "name": "@ann"}]
    assert "kept" in receive(session, note)
    # GoToSocial's reply (`to` a lone string, `tag` a one-item list) addressed to Ann as a cc.
    admin = "http://localhost:8080/users/admin"
    remote.actor(admin)
    gts = fixture("gotosocial-note-mention-reply", {"http://localhost:8080/users/the_mighty_zork": ann.uri})
    create = {"id": f"{gts['id']}/activity", "type": "Create", "actor": admin, "object": gts}
    assert "kept" in receive(session, create)
    kept = session.scalar(select(Status).where(Status.ap_id == gts["id"]))
    assert kept is not None and kept.visibility == "public" and kept.language == "en"
    mentioned = select(Notification.type).where(Notification.profile_id == ann.id, Notification.status_id == kept.id)
    assert session.scalar(mentioned) == "mention"


def test_a_unit_from_a_course_elsewhere_is_a_direct_status_for_the_learner(session: Session, remote: Remote) -> None:
    # A course on another instance writes each learner a note of their own (docs/federation-flows.md,
    # "What a fediverse learner sees"): to the learner, cc the course, a Mention of them.
    from community.access import can_see
    from server.floor.accounts import create_account

    account = create_account(session, "bea@example.org", handle="bea")  # a learner who never posted
    course = "https://a.example/courses/gentle-python"
    remote.actor(course, type="Service", preferredUsername="gentle-python")
    bea = urls.person("bea")
    note = {"id": "https://a.example/posts/unit-1-bea", "type": "Note", "attributedTo": course,
            "content": "<p>Welcome to unit 1</p>", "to": [bea], "cc": [course],
            "tag": [{"type": "Mention", "href": bea, "name": "@bea@testserver"}]}  # fmt: skip
    outcome = receive(
        session, {"id": f"{note['id']}/activity", "type": "Create", "actor": course, "to": [bea], "object": note}
    )
    kept = session.scalar(select(Status).where(Status.ap_id == note["id"]))
    assert kept is not None and outcome.startswith(f"status {kept.id}") and kept.visibility == "direct"
    profile = session.scalar(select(Profile).where(Profile.account_id == account.id))
    assert profile is not None and can_see(session, kept, profile)
    assert session.scalar(select(Notification.type).where(Notification.profile_id == profile.id)) == "mention"


def test_a_move_to_one_of_our_people_needs_their_alias(session: Session, remote: Remote) -> None:
    # Move#perform: the target must name the origin in alsoKnownAs; here the target is local, so its
    # own profile says so (no fetch).
    bob = local(session, "bob")
    dan = follower_of(session, remote, bob, "https://d.example/users/dan")
    new = local(session, "dan2")
    move = {"id": f"{dan.uri}#move", "type": "Move", "actor": dan.uri, "object": dan.uri, "target": new.uri}
    assert "alsoKnownAs does not name" in receive(session, move)
    assert graph.get_follow(session, bob.id, dan.id) is not None
    new.also_known_as = [dan.uri]
    assert "1 local person(s) now follow dan2" in receive(session, {**move, "id": f"{dan.uri}#move2"})
    assert graph.get_follow(session, bob.id, dan.id) is None
    assert graph.get_follow(session, bob.id, new.id) is not None and dan.moved_to_id == new.id


def test_a_followed_persons_boost_of_an_unknown_status_fetches_it_and_its_author(
    session: Session, remote: Remote
) -> None:
    # Announce#related_to_local_activity? (Ann follows Dan) and #announceable? (public); the status
    # comes from its own server, its author named in the Announce's cc (TagManager#cc for reblogs).
    ann = local(session, "ann")
    dan = follower_of(session, remote, ann, "https://d.example/users/dan")
    carl = "https://c.example/users/carl"
    remote.actor(carl)
    note_id = f"{carl}/statuses/7"
    remote.documents[note_id] = {"id": note_id, "type": "Note", "attributedTo": carl, "content": "<p>Carl's words</p>",
                                 "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [f"{carl}/followers"]}  # fmt: skip
    announce = {"id": f"{dan.uri}/statuses/8/activity", "type": "Announce", "actor": dan.uri, "object": note_id,
                "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [carl, f"{dan.uri}/followers"]}  # fmt: skip
    outcome = receive(session, announce)
    original = session.scalar(select(Status).where(Status.ap_id == note_id))
    assert (
        original is not None and original.html == "<p>Carl's words</p>" and outcome.endswith(f"of status {original.id}")
    )
    boost = session.scalar(select(Status).where(Status.reblog_of_id == original.id))
    assert boost is not None and boost.profile_id == dan.id
