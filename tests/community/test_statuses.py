"""Statuses: replies and threads, media, boosts, favourites, bookmarks, pins, edits with history,
remote statuses kept only when they matter, can_see, and the events federation listens to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from community import graph, statuses
from community.models import Media, Notification, Status
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound
from server.floor.events import DomainEvent


def events(session: Session, name: str) -> list[dict]:
    return [e.payload for e in session.scalars(select(DomainEvent).where(DomainEvent.name == name))]


def kinds(session: Session, profile_id: int) -> list[str]:
    query = select(Notification.type).where(Notification.profile_id == profile_id).order_by(Notification.id)
    return list(session.scalars(query))


def test_replies_thread_count_and_notify(session: Session, person) -> None:
    ann, bob, cy = person("ann"), person("bob"), person("cy")
    root = statuses.post(session, ann, "root")
    reply = statuses.post(session, bob, "reply", in_reply_to_id=root.id)
    deeper = statuses.post(session, cy, "deeper @ann", in_reply_to_id=reply.id)
    hidden = statuses.post(session, cy, "to bob only @bob", in_reply_to_id=reply.id, visibility="direct")
    session.refresh(root)
    assert (reply.thread_id, deeper.thread_id, reply.in_reply_to_profile_id) == (root.id, root.id, ann.id)
    assert root.replies_count == 1
    assert kinds(session, ann.id) == ["reply", "mention"]
    assert kinds(session, bob.id) == ["reply", "mention"]
    ancestors, descendants = statuses.context(session, root, ann)
    assert ancestors == [] and [s.id for s in descendants] == [reply.id, deeper.id]
    ancestors, descendants = statuses.context(session, deeper, bob)
    assert [s.id for s in ancestors] == [root.id, reply.id] and descendants == []
    assert [s.id for s in statuses.context(session, reply, bob)[1]] == [deeper.id, hidden.id]
    with pytest.raises(NotFound):
        statuses.post(session, ann, "to what I cannot see", in_reply_to_id=hidden.id)


def test_media_must_be_the_authors_and_at_most_four(session: Session, person) -> None:
    ann, bob = person("ann"), person("bob")
    mine = [Media(profile_id=ann.id, path=f"m{n}.webp", description=f"alt {n}") for n in range(5)]
    theirs = Media(profile_id=bob.id, path="b.webp")
    session.add_all([*mine, theirs])
    session.flush()
    with pytest.raises(Invalid, match="at most 4"):
        statuses.post(session, ann, "pics", media_ids=[m.id for m in mine])
    with pytest.raises(Invalid, match="no media"):
        statuses.post(session, ann, "pics", media_ids=[theirs.id])
    status = statuses.post(session, ann, "", media_ids=[str(mine[1].id), mine[0].id])
    assert [(m.status_id, m.position) for m in (mine[1], mine[0])] == [(status.id, 0), (status.id, 1)]
    with pytest.raises(Invalid, match="another status"):
        statuses.post(session, ann, "again", media_ids=[mine[0].id])
    with pytest.raises(Invalid, match="needs text"):
        statuses.post(session, ann, "   ")


def test_boost_favourite_bookmark_and_their_counts(session: Session, person) -> None:
    ann, bob = person("ann"), person("bob")
    status = statuses.post(session, ann, "nice")
    boost = statuses.reblog(session, bob, status)
    assert statuses.reblog(session, bob, status).id == boost.id  # once
    statuses.favourite(session, bob, status)
    statuses.favourite(session, bob, boost)  # the boost stands for its original
    statuses.bookmark(session, bob, status)
    session.refresh(status)
    assert (status.reblogs_count, status.favourites_count) == (1, 1)
    assert kinds(session, ann.id) == ["reblog", "favourite"]
    assert events(session, "favourite.created") and events(session, "status.created")[-1] == {"status_id": boost.id}
    assert statuses.unreblog(session, bob, status) and statuses.unfavourite(session, bob, status)
    assert statuses.unbookmark(session, bob, status) and not statuses.unbookmark(session, bob, status)
    session.refresh(status)
    assert (status.reblogs_count, status.favourites_count) == (0, 0)
    assert events(session, "status.deleted")[-1]["reblog_of_id"] == status.id
    private = statuses.post(session, ann, "mine", visibility="private")
    with pytest.raises(NotFound):
        statuses.reblog(session, bob, private)
    graph.follow(session, bob, ann)
    with pytest.raises(Invalid, match="cannot be boosted"):
        statuses.reblog(session, bob, private)


def test_pins_own_public_statuses_at_most_five(session: Session, person) -> None:
    ann, bob = person("ann"), person("bob")
    posts = [statuses.post(session, ann, f"p{n}") for n in range(6)]
    for status in posts[:5]:
        statuses.pin(session, ann, status)
    with pytest.raises(Invalid, match="at most 5"):
        statuses.pin(session, ann, posts[5])
    with pytest.raises(NotFound):
        statuses.pin(session, bob, posts[5])
    with pytest.raises(Invalid, match="public and unlisted"):
        statuses.pin(session, ann, statuses.post(session, ann, "secret", visibility="private"))
    statuses.unpin(session, ann, posts[0])
    statuses.pin(session, ann, posts[5])


def test_edit_keeps_history_and_tells_boosters(session: Session, person) -> None:
    ann, bob, cy = person("ann"), person("bob"), person("cy")
    status = statuses.post(session, ann, "first #one")
    statuses.reblog(session, bob, status)
    statuses.edit(session, status, text="second #two, hi @cy", spoiler_text="cw")
    history = statuses.history(session, status)
    assert [h.text for h in history] == ["first #one", "second #two, hi @cy"]
    assert status.edited_at is not None and status.sensitive and "tags/two" in status.html
    assert kinds(session, bob.id) == ["update"] and kinds(session, cy.id) == ["mention"]
    assert events(session, "status.updated") == [{"status_id": status.id}]
    with pytest.raises(Invalid, match="longer than"):
        statuses.edit(session, status, text="x" * 600)


def test_remote_statuses_are_kept_only_when_they_matter(session: Session, person, remote) -> None:
    ann, zed, yan = person("ann"), remote("zed"), remote("yan", "other.example")
    note: dict[str, Any] = {"html": "<p>hello</p>", "published": now() - timedelta(days=1)}
    assert statuses.receive(session, zed, ap_id="https://social.example/s/1", **note) is None
    graph.follow(session, ann, zed)
    assert statuses.receive(session, zed, ap_id="https://social.example/s/2", **note) is None  # not accepted yet
    graph.accept(session, graph.get_follow(session, ann.id, zed.id))  # type: ignore[arg-type]
    kept = statuses.receive(session, zed, ap_id="https://social.example/s/3", **note)
    assert kept is not None and not kept.local and kept.text == "hello"
    assert kept.created_at < now() - timedelta(hours=23) and kept.id < statuses.post(session, ann, "now").id
    assert statuses.receive(session, zed, ap_id="https://social.example/s/3", **note).id == kept.id  # type: ignore[union-attr]
    mine = statuses.post(session, ann, "question")
    reply = statuses.receive(session, yan, ap_id="https://other.example/r", html="<p>a</p>", in_reply_to=mine)
    assert reply is not None and reply.thread_id == mine.id and kinds(session, ann.id)[-1] == "reply"
    mention = statuses.receive(session, yan, ap_id="https://other.example/m", html="<p>@ann</p>", mentions=[ann])
    assert mention is not None and kinds(session, ann.id)[-1] == "mention"
    asked = statuses.receive(session, yan, ap_id="https://other.example/f", html="<p>f</p>", force=True)
    assert asked is not None and asked.visibility == "public"


def test_can_see_blocks_suspension_and_deletion(session: Session, person) -> None:
    ann, bob = person("ann"), person("bob")
    status = statuses.post(session, ann, "hello")
    assert statuses.can_see(session, status, None) and statuses.can_see(session, status, bob)
    graph.block(session, bob, ann)
    assert not statuses.can_see(session, status, bob)
    graph.unblock(session, bob, ann)
    ann.suspended_at = now()
    session.flush()
    assert not statuses.can_see(session, status, bob) and not statuses.can_see(session, status, None)
    ann.suspended_at = None
    statuses.delete(session, status)
    assert not statuses.can_see(session, status, ann)
    assert events(session, "status.deleted")[-1] == {
        "status_id": status.id,
        "profile_id": ann.id,
        "ap_id": status.ap_id,
        "reblog_of_id": None,
        "by": "author",
    }
    assert session.get(Status, status.id).text == ""  # type: ignore[union-attr]


def test_visible_many_agrees_with_can_see(session: Session, person, remote) -> None:
    from community.access import visible_many

    ann, bob, cy, dee, zed = person("ann"), person("bob"), person("cy"), person("dee"), remote("zed")
    graph.follow(session, bob, ann)
    graph.block(session, dee, ann)
    made = [
        statuses.post(session, ann, "public"),
        statuses.post(session, ann, "unlisted", visibility="unlisted"),
        statuses.post(session, ann, "followers", visibility="private"),
        statuses.post(session, ann, "to @cy", visibility="direct"),
        statuses.post(session, cy, "cy's own", visibility="private"),
    ]
    gone = statuses.post(session, bob, "gone")
    statuses.delete(session, gone)
    graph.follow(session, ann, zed)
    graph.accept(session, graph.get_follow(session, ann.id, zed.id))  # type: ignore[arg-type]
    remote_status = statuses.receive(session, zed, ap_id="https://social.example/s/9", html="<p>z</p>")
    assert remote_status is not None
    everything = [*made, gone, remote_status]
    for viewer in (None, ann, bob, cy, dee, zed):
        expected = {s.id for s in everything if statuses.can_see(session, s, viewer)}
        assert visible_many(session, everything, viewer) == expected, viewer and viewer.username


def test_nul_and_control_characters_never_reach_the_database(session: Session, person) -> None:
    """PostgreSQL refuses NUL in text: a status with one was a 500 through the client API."""
    ann = person("ann")
    status = statuses.post(session, ann, "hello\x00 world\x07", spoiler_text="cw\x00")
    session.flush()
    assert (status.text, status.spoiler_text) == ("hello world", "cw")
    statuses.edit(session, status, text="edited\x00", spoiler_text="\x00")
    session.flush()
    assert (status.text, status.spoiler_text) == ("edited", "")
