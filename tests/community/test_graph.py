"""Follows, requests, blocks and mutes with Mastodon's Relationship, counts kept right."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from community import graph, notifications, statuses
from community.models import Follow, Notification, Profile
from community.people import actor_profile
from server.floor.errors import Invalid, PermissionDenied
from server.floor.events import DomainEvent


def counts(session: Session, *people: Profile) -> list[tuple[int, int]]:
    for p in people:
        session.refresh(p)
    return [(p.following_count, p.followers_count) for p in people]


def test_block_ends_follows_both_ways_and_refuses_new_ones(session: Session, person) -> None:
    ann, bob = person("ann"), person("bob")
    graph.follow(session, ann, bob)
    graph.follow(session, bob, ann)
    assert counts(session, ann, bob) == [(1, 1), (1, 1)]
    graph.block(session, ann, bob)
    assert counts(session, ann, bob) == [(0, 0), (0, 0)]
    assert session.scalars(select(Follow)).all() == []
    relation = graph.relationship(session, ann, bob)
    assert relation["blocking"] and not relation["following"] and not relation["followed_by"]
    assert graph.relationship(session, bob, ann)["blocked_by"]
    with pytest.raises(PermissionDenied):
        graph.follow(session, bob, ann)
    assert graph.unblock(session, ann, bob) and not graph.unblock(session, ann, bob)
    graph.follow(session, bob, ann)
    names = [e.name for e in session.scalars(select(DomainEvent).where(DomainEvent.name.like("block.%")))]
    assert names == ["block.created", "block.deleted"]


def test_requests_are_accepted_rejected_and_withdrawn(session: Session, person) -> None:
    ann, bob, cy = person("ann", locked=True), person("bob"), person("cy")
    request = graph.follow(session, bob, ann)
    other = graph.follow(session, cy, ann)
    assert graph.relationship(session, ann, bob)["requested_by"]
    assert [f.profile_id for f in graph.follow_requests(session, ann)] == [bob.id, cy.id]
    assert [n.type for n in notifications.page(session, ann)] == ["follow_request", "follow_request"]
    graph.accept(session, request)
    graph.reject(session, other)
    assert counts(session, ann) == [(0, 1)]
    assert [n.type for n in notifications.page(session, ann)] == ["follow"]
    assert graph.unfollow(session, bob, ann) and not graph.unfollow(session, bob, ann)
    assert counts(session, ann, bob) == [(0, 0), (0, 0)]
    graph.follow(session, bob, ann)
    assert graph.remove_follower(session, ann, bob) is True  # a request can be refused this way too
    assert graph.get_follow(session, bob.id, ann.id) is None


def test_follow_options_and_notify_on_post(session: Session, person) -> None:
    ann, bob = person("ann"), person("bob")
    graph.follow(session, bob, ann)
    graph.follow(session, bob, ann, show_reblogs=False, notify_posts=True)
    relation = graph.relationship(session, bob, ann)
    assert relation["following"] and relation["notifying"] and not relation["showing_reblogs"]
    status = statuses.post(session, ann, "news")
    told = session.scalars(select(Notification).where(Notification.profile_id == bob.id)).all()
    assert [(n.type, n.status_id) for n in told] == [("status", status.id)]
    with pytest.raises(Invalid):
        graph.follow(session, ann, ann)


def test_mute_keeps_the_follow_and_silences_notifications(session: Session, person) -> None:
    ann, bob = person("ann"), person("bob")
    graph.mute(session, ann, bob)
    graph.follow(session, bob, ann)
    assert notifications.page(session, ann) == []
    relation = graph.relationship(session, ann, bob)
    assert relation["muting"] and relation["muting_notifications"] and relation["followed_by"]
    graph.mute(session, ann, bob, notifications=False)
    statuses.post(session, bob, "hi @ann")
    assert [n.type for n in notifications.page(session, ann)] == ["mention"]
    assert graph.unmute(session, ann, bob) and not graph.relationship(session, ann, bob)["muting"]


def test_course_run_and_group_profiles_are_followed_like_anyone(session: Session, person) -> None:
    ann = person("ann")
    course = actor_profile(
        session, uri="http://testserver.localhost/courses/py", kind="course", username="py", display_name="Python"
    )
    group = actor_profile(session, uri="http://testserver.localhost/groups/py-1-g1", kind="group", username="py-1-g1")
    assert (course.bot, course.group, group.bot, group.group) == (True, False, False, True)
    assert actor_profile(session, uri=course.uri, kind="course", username="py", display_name="Py").id == course.id
    graph.follow(session, ann, course)
    assert graph.relationship(session, ann, course)["following"] and counts(session, course) == [(0, 1)]
    statuses.post(session, ann, "thanks @py")
    assert notifications.page(session, ann) == []  # nobody to tell at a course
