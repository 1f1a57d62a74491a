"""Course flows in one process: version Updates, run announcements, fork notices, upstream notices."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses import forks as course_forks
from courses.models import CourseFork, Post
from courses.versions import publish
from federation.flows import follows, forks
from federation.models import Follower, Following
from server.floor import urls
from tests.federation.flows_support import course_and_run, deliveries, receive, remote_person
from tests.federation.test_vocabulary import gentle_python


def _follow(session: Session, local: str, name: str) -> str:
    person = remote_person(session, name)
    note = receive(
        session, {"id": f"{person.ap_id}#f-{local}", "type": "Follow", "actor": person.ap_id, "object": local}
    )
    assert "accepted follower" in note
    return person.ap_id


def test_publishing_sends_update_of_the_course_at_its_new_version_to_followers(session: Session) -> None:
    course, _run = course_and_run(session)
    course_id = urls.course(course.slug)
    _follow(session, course_id, "ada")
    publish(session, course)
    ((row, update),) = deliveries(session, "Update")
    assert row.inbox == "https://social.example/inbox" and row.sender == course_id
    assert update["object"]["id"] == course_id and update["object"]["version"] == 2
    assert update["object"]["units"][0]["source"]["mediaType"] == "text/markdown"


def test_nothing_is_sent_when_a_course_has_no_followers(session: Session) -> None:
    course, _run = course_and_run(session)
    publish(session, course)
    assert deliveries(session) == []


def test_a_new_run_is_announced_to_course_followers_as_a_note(session: Session) -> None:
    from datetime import date

    from courses.runs import create_run

    course, _first = course_and_run(session)
    _follow(session, urls.course(course.slug), "ada")
    run = create_run(session, course, date(2030, 3, 4), "Europe/Berlin")
    ((row, create),) = deliveries(session, "Create")
    note = create["object"]
    assert note["type"] == "Note" and urls.run(run.handle) in note["content"] and "2030-03-04" in note["content"]
    post = session.scalar(select(Post).where(Post.ap_id == note["id"]))
    assert post is not None and post.kind == "announcement" and post.run_id == run.id


def test_a_fork_announces_itself_to_its_lineage_and_follows_its_origin(session: Session) -> None:
    origin = remote_person(session, "origin-course", host="a.example")  # any cached actor can be an origin
    snapshot = gentle_python()
    snapshot.update(origin=origin.ap_id, lineage=[origin.ap_id, "https://z.example/courses/root"])
    course = course_forks.create_fork(session, snapshot, origin_version=3)
    fork_id = urls.course(course.slug)
    create = deliveries(session, "Create")[0][1]
    assert create["actor"] == fork_id and create["object"]["origin"] == origin.ap_id and create["result"] == fork_id
    targets = {row.inbox for row, body in deliveries(session, "Create")}
    assert targets == {"https://a.example/inbox", "actor:https://z.example/courses/root"}
    following = session.scalar(select(Following).where(Following.actor == fork_id))
    assert following is not None and following.target == origin.ap_id and following.state == "pending"


def test_the_origin_lists_a_fork_only_when_the_fork_itself_announces_it(session: Session) -> None:
    course, _run = course_and_run(session)
    course_id = urls.course(course.slug)
    fork = "https://b.example/courses/gentle-fork"
    announcement = {"id": "a1", "type": "Create", "actor": fork, "result": fork,
                    "object": {"id": fork, "type": "Service", "name": "Gentle fork", "origin": course_id}}  # fmt: skip
    forged = {**announcement, "id": "a2", "actor": "https://evil.example/users/x"}
    assert receive(session, forged) == "ignored: nothing here handles Create"
    assert "listed" in receive(session, announcement)
    receive(session, {**announcement, "id": "a3"})  # a repeat lists it once
    collection = forks.forks_collection(session, course)
    assert collection["type"] == "OrderedCollection" and collection["orderedItems"] == [
        {"id": fork, "type": "Service", "name": "Gentle fork"}
    ]
    assert session.scalar(select(CourseFork.fork_id)) == fork


def test_an_update_from_the_origin_is_an_upstream_notice_not_a_merge(session: Session) -> None:
    origin = "https://a.example/courses/gentle-python"
    snapshot = gentle_python()
    snapshot.update(origin=origin, lineage=[origin])
    course = course_forks.create_fork(session, snapshot, origin_version=1)
    body_before = course.units[1].body
    newer = {"id": origin, "type": "Service", "version": 2, "slug": "gentle-python", "units": []}
    assert "ignored" in receive(
        session, {"id": "u0", "type": "Update", "actor": "https://a.example/users/x", "object": newer}
    )
    assert "upstream version noted on 1 fork" in receive(
        session, {"id": "u1", "type": "Update", "actor": origin, "object": newer}
    )
    assert course.upstream_version == 2 and course_forks.has_upstream_change(course)
    assert course.units[1].body == body_before


def test_follow_helpers_count_and_unfollow(session: Session) -> None:
    course, _run = course_and_run(session)
    course_id = urls.course(course.slug)
    ada = _follow(session, course_id, "ada")
    _follow(session, course_id, "bob")
    assert follows.follower_count(session, course_id) == 2
    assert follows.followers_of(session, course_id)[0] == ada
    assert follows.remove_follower(session, course_id, ada) and follows.follower_count(session, course_id) == 1
    assert session.scalar(select(Follower.follower)) != ada
