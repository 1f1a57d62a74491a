"""Posting, following and the home and public timelines on both databases (the first landing)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community import graph, statuses, timelines
from community.models import FeedEntry, Notification, Profile, Status
from community.people import find_by_acct, local_profile
from server.floor.accounts import create_account
from server.floor.errors import Invalid, NotFound


def test_local_profile_is_made_once_with_its_urls(session: Session) -> None:
    account = create_account(session, "ann@example.org", handle="ann")
    first = local_profile(session, account)
    again = local_profile(session, account)
    assert first.id == again.id
    assert first.uri == "http://testserver.localhost/users/ann"
    assert first.url == "http://testserver.localhost/@ann"
    assert find_by_acct(session, "@ANN") is first
    assert find_by_acct(session, "ann@testserver.localhost") is first
    assert find_by_acct(session, "ann@elsewhere.example") is None


def test_followers_get_the_post_in_home_and_strangers_do_not(session: Session, person, remote) -> None:
    ann, bob, cat = person("ann"), person("bob"), person("cat")
    graph.follow(session, bob, ann)
    status = statuses.post(session, ann, "Hello #World from @cat, see https://example.org/x")
    assert [s.id for s in timelines.home(session, bob)] == [status.id]
    assert [s.id for s in timelines.home(session, ann)] == [status.id]
    assert timelines.home(session, cat) == []
    assert 'href="http://testserver.localhost/@cat"' in status.html
    assert 'href="http://testserver.localhost/tags/world"' in status.html
    mention = session.scalar(select(Notification).where(Notification.profile_id == cat.id))
    assert mention is not None and mention.type == "mention" and mention.status_id == status.id
    session.refresh(ann)
    session.refresh(bob)
    assert (ann.statuses_count, ann.followers_count, bob.following_count) == (1, 1, 1)
    assert [s.id for s in timelines.public(session, cat, local=True)] == [status.id]
    assert timelines.public(session, cat, remote=True) == []


def test_delete_takes_the_status_out_of_feeds_and_counts(session: Session, person) -> None:
    ann, bob = person("ann"), person("bob")
    graph.follow(session, bob, ann)
    status = statuses.post(session, ann, "soon gone")
    assert statuses.delete(session, status) is True
    assert statuses.delete(session, status) is False
    assert timelines.home(session, bob) == []
    assert timelines.public(session, None) == []
    assert session.scalar(select(func.count()).select_from(FeedEntry).where(FeedEntry.status_id == status.id)) == 0
    session.refresh(ann)
    assert ann.statuses_count == 0


def test_length_limit_counts_urls_as_23(session: Session, person) -> None:
    ann = person("ann")
    statuses.post(session, ann, "x" * 476 + " https://example.org/" + "y" * 200)
    with pytest.raises(Invalid, match="longer than 500"):
        statuses.post(session, ann, "x" * 501)


def test_locked_account_makes_a_request_until_accepted(session: Session, person) -> None:
    ann, bob = person("ann", locked=True), person("bob")
    row = graph.follow(session, bob, ann)
    assert row.accepted is False
    assert graph.relationship(session, bob, ann)["requested"] is True
    private = statuses.post(session, ann, "followers only", visibility="private")
    assert timelines.home(session, bob) == []
    with pytest.raises(NotFound):
        statuses.get_visible(session, private.id, bob)
    graph.accept(session, row)
    relation = graph.relationship(session, bob, ann)
    assert relation["following"] is True and relation["requested"] is False
    assert [s.id for s in timelines.home(session, bob)] == [private.id]  # merged on accept
    assert statuses.get_visible(session, private.id, bob).id == private.id
    types = set(session.scalars(select(Notification.type).where(Notification.profile_id == ann.id)))
    assert types == {"follow"}


def test_remote_follow_target_is_pending(session: Session, person, remote) -> None:
    ann, zed = person("ann"), remote("zed")
    row = graph.follow(session, ann, zed)
    assert row.accepted is False
    session.refresh(ann)
    assert ann.following_count == 0


def test_status_ids_sort_by_time_and_kind(session: Session, person) -> None:
    ann = person("ann")
    first = statuses.post(session, ann, "one")
    second = statuses.post(session, ann, "two")
    assert second.id > first.id
    stored = session.get(Status, first.id)
    assert stored is not None and stored.local and stored.kind == "status" and stored.visibility == "public"
    assert session.get(Profile, ann.id) is ann
