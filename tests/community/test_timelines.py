"""Timelines: id cursors page without duplicates or gaps (hypothesis), and what each timeline
leaves out (blocked, muted, suspended, deleted, not public, boosts of hidden statuses)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from community import graph, statuses, tags, timelines
from community.models import Block, FeedEntry, Mute, Status
from server.floor.clock import now


def ids(rows: list[Status]) -> list[int]:
    return [s.id for s in rows]


def test_paging_has_no_duplicates_and_no_gaps(session: Session, person) -> None:
    ann, bob = person("ann"), person("bob")
    graph.follow(session, bob, ann)
    made = [statuses.post(session, ann, f"status {n}").id for n in range(23)]
    everything = sorted(made, reverse=True)
    assert ids(timelines.home(session, bob, limit=40)) == everything

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(limit=st.integers(min_value=1, max_value=12), start=st.integers(min_value=0, max_value=22))
    def walk(limit: int, start: int) -> None:
        # Backwards with max_id from a starting point: every older status once, newest first.
        seen: list[int] = []
        cursor = everything[start] + 1
        while True:
            page = ids(timelines.home(session, bob, max_id=cursor, limit=limit))
            assert len(page) <= limit
            if not page:
                break
            seen += page
            cursor = page[-1]
        assert seen == everything[start:]
        # Forwards with min_id: each page is the oldest window above the cursor, newest first.
        seen, cursor = [], everything[start] - 1
        while True:
            page = ids(timelines.home(session, bob, min_id=cursor, limit=limit))
            if not page:
                break
            assert page == sorted(page, reverse=True)
            seen = page + seen
            cursor = page[0]
        assert seen == everything[: start + 1]
        # since_id: the newest `limit` above it.
        assert ids(timelines.home(session, bob, since_id=everything[start], limit=limit)) == everything[:start][:limit]

    walk()


def test_home_leaves_out_muted_blocked_deleted_and_suspended(session: Session, person) -> None:
    ann, bob, cy, dee = person("ann"), person("bob"), person("cy"), person("dee")
    for target in (ann, cy, dee):
        graph.follow(session, bob, target)
    kept = statuses.post(session, ann, "kept")
    muted = statuses.post(session, cy, "muted")
    gone = statuses.post(session, ann, "deleted")
    hidden = statuses.post(session, dee, "suspended")
    assert set(ids(timelines.home(session, bob))) == {kept.id, muted.id, gone.id, hidden.id}
    graph.mute(session, bob, cy)
    statuses.delete(session, gone)
    dee.suspended_at = now()
    session.flush()
    assert ids(timelines.home(session, bob)) == [kept.id]
    graph.unmute(session, bob, cy)
    assert ids(timelines.home(session, bob)) == [muted.id, kept.id]
    graph.block(session, ann, bob)  # ann blocks bob: bob's follow of ann ends, her status leaves his feed
    assert ids(timelines.home(session, bob)) == [muted.id]
    assert ids(timelines.public(session, bob)) == [muted.id]
    assert ids(timelines.public(session, None)) == [muted.id, kept.id]


def test_home_filters_what_is_already_in_the_feed_blocks_both_ways_mutes_and_boosts(session: Session, person) -> None:
    # Rows written directly, without graph's feed clean-up: the home statement's own conditions decide.
    ann, bob, cy, dee, eve = person("ann"), person("bob"), person("cy"), person("dee"), person("eve")
    mine = {p.id: statuses.post(session, p, f"by {p.username}") for p in (ann, cy, dee, eve)}
    anonymous = Status(kind="group", source="email", visibility="group", text="by mail", html="<p>by mail</p>")
    session.add(anonymous)
    session.flush()
    boost_of_cy = statuses.reblog(session, eve, mine[cy.id])
    for status in [*mine.values(), anonymous, boost_of_cy]:
        if session.get(FeedEntry, (bob.id, status.id)) is None:
            session.add(FeedEntry(profile_id=bob.id, status_id=status.id))
    session.flush()
    everything = {*(s.id for s in mine.values()), anonymous.id, boost_of_cy.id}
    assert set(ids(timelines.home(session, bob))) == everything
    session.add_all([Block(profile_id=bob.id, target_id=ann.id), Block(profile_id=cy.id, target_id=bob.id)])
    session.add(Mute(profile_id=bob.id, target_id=dee.id))
    session.flush()
    # bob blocks ann, cy blocks bob (and eve's boost of cy goes too), bob mutes dee; a status with no
    # profile (a mail to a group) stays whatever the viewer blocks or mutes
    assert set(ids(timelines.home(session, bob))) == {mine[eve.id].id, anonymous.id}
    assert set(ids(timelines.home(session, bob, limit=1))) <= {mine[eve.id].id, anonymous.id}
    assert set(ids(timelines.home(session, eve))) >= {mine[eve.id].id, boost_of_cy.id}  # nobody's filters but eve's
    # eve's profile: her boost of cy (who blocks bob) shows to everyone but bob
    assert ids(timelines.of_profile(session, bob, eve)) == [mine[eve.id].id]
    assert ids(timelines.of_profile(session, None, eve)) == [boost_of_cy.id, mine[eve.id].id]
    assert ids(timelines.of_profile(session, dee, eve)) == [boost_of_cy.id, mine[eve.id].id]


def test_a_boost_reaches_the_boosters_followers_but_not_when_the_original_goes(session: Session, person) -> None:
    ann, bob, cy = person("ann"), person("bob"), person("cy")
    graph.follow(session, cy, bob)
    original = statuses.post(session, ann, "worth sharing")
    boost = statuses.reblog(session, bob, original)
    assert ids(timelines.home(session, cy)) == [boost.id]
    assert ids(timelines.public(session, cy)) == [original.id]  # boosts stay off public timelines
    graph.mute(session, cy, ann)  # a boost of a muted author is left out
    assert timelines.home(session, cy) == []
    graph.unmute(session, cy, ann)
    statuses.delete(session, original)
    assert timelines.home(session, cy) == []
    assert session.get(Status, boost.id).deleted  # type: ignore[union-attr]


def test_visibility_decides_public_profile_and_home(session: Session, person) -> None:
    ann, bob, cy = person("ann"), person("bob"), person("cy")
    graph.follow(session, bob, ann)
    public = statuses.post(session, ann, "public")
    unlisted = statuses.post(session, ann, "unlisted", visibility="unlisted")
    private = statuses.post(session, ann, "followers", visibility="private")
    direct = statuses.post(session, ann, "just for @cy", visibility="direct")
    assert ids(timelines.public(session, None)) == [public.id]
    assert ids(timelines.home(session, bob)) == [private.id, unlisted.id, public.id]
    assert ids(timelines.home(session, cy)) == [direct.id]
    assert ids(timelines.of_profile(session, None, ann)) == [unlisted.id, public.id]
    assert ids(timelines.of_profile(session, bob, ann)) == [private.id, unlisted.id, public.id]
    assert ids(timelines.of_profile(session, cy, ann)) == [direct.id, unlisted.id, public.id]
    assert ids(timelines.of_profile(session, ann, ann)) == [direct.id, private.id, unlisted.id, public.id]
    graph.block(session, cy, ann)
    assert timelines.of_profile(session, cy, ann) == []


def test_hashtag_timeline_and_followed_hashtags(session: Session, person) -> None:
    ann, bob = person("ann"), person("bob")
    tags.follow_tag(session, bob.id, "#Python")
    tagged = statuses.post(session, ann, "I like #python")
    statuses.post(session, ann, "quiet #python", visibility="unlisted")
    statuses.post(session, ann, "no tag")
    assert ids(timelines.tag(session, None, "PYTHON")) == [tagged.id]
    assert ids(timelines.home(session, bob)) == [tagged.id]
    assert timelines.tag(session, None, "nothing") == []


def test_replies_reach_followers_who_follow_both(session: Session, person) -> None:
    ann, bob, cy, dee = person("ann"), person("bob"), person("cy"), person("dee")
    graph.follow(session, cy, ann)  # cy follows ann only
    graph.follow(session, dee, ann)
    graph.follow(session, dee, bob)  # dee follows both
    question = statuses.post(session, bob, "a question")
    answer = statuses.post(session, ann, "an answer", in_reply_to_id=question.id)
    assert answer.id not in ids(timelines.home(session, cy))
    assert answer.id in ids(timelines.home(session, dee))
    assert ids(timelines.of_profile(session, None, ann, exclude_replies=True)) == []
