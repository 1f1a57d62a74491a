"""Cohorts across the fediverse in one process: joining runs, FEP-1b12 group posts, units as Notes, moderation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.groups import form_groups
from courses.models import Enrollment, Post, Run, StudyGroup
from courses.signup import admin_enroll, confirm
from federation.flows import cohorts, reports
from federation.models import Report
from federation.transport import fetch
from server.floor import urls
from server.floor.errors import Invalid, PermissionDenied
from server.floor.events import DomainEvent, publish
from tests.federation.flows_support import course_and_run, deliveries, receive, remote_person


def grouped_run(session: Session) -> tuple[Run, StudyGroup]:
    """A run with one email learner (Ann) in its one study group."""
    _course, run = course_and_run(session)
    admin_enroll(session, run, "ann@example.org", "Ann")
    form_groups(session, run)
    session.flush()
    group = session.scalar(select(StudyGroup).where(StudyGroup.run_id == run.id))
    assert group is not None
    return run, group


def follow_run(session: Session, run: Run, name: str) -> tuple[str, str]:
    """A Mastodon account follows the run (its way to join); its id and the handlers' outcome."""
    person = remote_person(session, name)
    outcome = receive(
        session,
        {"id": f"{person.ap_id}#follow", "type": "Follow", "actor": person.ap_id, "object": urls.run(run.handle)},
    )
    return person.ap_id, outcome


def note_to_group(author: str, group: StudyGroup, text: str, number: int = 1) -> dict[str, Any]:
    """A member's post addressed to the group, as Mastodon sends it (mention + to)."""
    group_id = urls.group(group.handle)
    note = {"id": f"{author}/statuses/{number}", "type": "Note", "attributedTo": author, "to": [group_id],
            "content": f"<p>{text}<script>alert(1)</script></p>"}  # fmt: skip
    return {"id": f"{note['id']}/activity", "type": "Create", "actor": author, "to": [group_id], "object": note}


def test_following_a_run_enrolls_groups_and_accepts(session: Session) -> None:
    run, group = grouped_run(session)
    bea, outcome = follow_run(session, run, "bea")
    assert "enrolled" in outcome and "accepted follower" in outcome
    enrollment = session.scalar(select(Enrollment).where(Enrollment.actor == bea))
    assert enrollment is not None and enrollment.status == "confirmed" and enrollment.group_id == group.id
    (row, accept), = deliveries(session, "Accept")  # fmt: skip
    assert accept["actor"] == urls.run(run.handle) and row.inbox == "https://social.example/inbox"
    assert cohorts.fediverse_members(session, group) == [bea]


def test_an_instance_following_a_run_is_a_follower_not_a_learner(session: Session) -> None:
    run, group = grouped_run(session)
    instance = remote_person(session, "instance.actor", host="peer.example")
    instance.type = "Application"
    session.flush()
    follow = {"id": "f-app", "type": "Follow", "actor": instance.ap_id, "object": urls.run(run.handle)}
    outcome = receive(session, follow)
    assert "not enrolled" in outcome and "accepted follower" in outcome
    assert session.scalar(select(Enrollment).where(Enrollment.actor == instance.ap_id)) is None
    assert cohorts.fediverse_members(session, group) == []


def test_join_is_answered_and_a_blocked_member_is_rejected(session: Session) -> None:
    run, group = grouped_run(session)
    cora = remote_person(session, "cora").ap_id
    group_id = urls.group(group.handle)
    assert "Accept Join" in receive(session, {"id": "j1", "type": "Join", "actor": cora, "object": group_id})
    cohorts.block_member(session, group, cora)
    assert session.scalar(select(Enrollment.group_id).where(Enrollment.actor == cora)) is None
    assert "Reject Join" in receive(
        session, {"id": "j2", "type": "Join", "actor": cora, "object": urls.run(run.handle)}
    )
    with pytest.raises(PermissionDenied, match="blocked"):
        cohorts.join(session, run, cora)


def test_a_members_post_is_archived_relayed_and_copied_to_each_other_member(session: Session) -> None:
    run, group = grouped_run(session)
    bea, _ = follow_run(session, run, "bea")
    dan, _ = follow_run(session, run, "dan")
    outsider = remote_person(session, "eve").ap_id
    assert "not a member" in receive(session, note_to_group(outsider, group, "spam"))
    assert "post" in receive(session, note_to_group(bea, group, "Hello group"))
    post = session.scalar(select(Post).where(Post.source == "activitypub"))
    assert post is not None and post.group_id == group.id and post.text == "Hello group" and "<script" not in post.html
    events = [
        p["post_id"] for p in session.scalars(select(DomainEvent.payload).where(DomainEvent.name == "post.created"))
    ]
    assert events == [post.id]  # so the mail package relays it to Ann
    # Mastodon keeps no Announce from a group nobody there follows: Dan gets a copy written for him.
    assert deliveries(session, "Announce") == []
    (_row, create), = [(r, b) for r, b in deliveries(session, "Create") if b["object"]["to"] == [dan]]  # fmt: skip
    course = urls.course(run.course.slug)
    assert create["actor"] == course and create["object"]["cc"] == [course]
    assert create["object"]["tag"] == [{"type": "Mention", "href": dan, "name": "@dan@social.example"}]
    assert "Hello group" in create["object"]["content"] and "<script" not in create["object"]["content"]
    assert not [b for _r, b in deliveries(session, "Create") if bea in b["object"]["to"]]  # not to its author
    receive(session, note_to_group(bea, group, "Hello group"))  # the same Note again: archived once
    assert len(list(session.scalars(select(Post).where(Post.source == "activitypub")))) == 1


def test_an_email_post_reaches_fediverse_members_as_a_note_naming_them(session: Session) -> None:
    run, group = grouped_run(session)
    bea, _ = follow_run(session, run, "bea")
    post = Post(group_id=group.id, run_id=run.id, source="email", author_email="ann@example.org", author_name="Ann",
                subject="Re: hello", text="Welcome Bea.\n\nSee you.")  # fmt: skip
    session.add(post)
    session.flush()
    publish(session, "post.created", {"post_id": post.id})
    (_row, create), = deliveries(session, "Create")  # fmt: skip
    note = create["object"]
    assert create["actor"] == urls.course(run.course.slug) and note["to"] == [bea]
    assert note["id"] == urls.absolute(f"/posts/{post.id}/to/{cohorts.members(session, group)[1].id}")
    assert "<strong>Ann</strong> wrote in your study group" in note["content"] and "Re: hello" in note["content"]
    assert "<p>See you.</p>" in note["content"] and "name" not in note and "summary" not in note


def test_a_due_unit_goes_to_the_fediverse_learner_once(session: Session) -> None:
    run, group = grouped_run(session)
    bea, _ = follow_run(session, run, "bea")
    enrollment = session.scalar(select(Enrollment).where(Enrollment.actor == bea))
    assert enrollment is not None
    for _ in range(2):
        publish(
            session, "unit.due_for_actor", {"enrollment_id": enrollment.id, "position": 1, "key": "unit:1:2:variables"}
        )
    (row, create), = deliveries(session, "Create")  # fmt: skip
    note = create["object"]
    course = urls.course(run.course.slug)
    assert create["actor"] == course and note["to"] == [bea] and note["cc"] == [course]
    assert row.inbox == "https://social.example/inbox" and "name" not in note
    assert "Week 1" in note["content"] and f"{group.handle}@lists" in note["content"]  # merge tags rendered
    assert f'href="{urls.group(group.handle)}"' in note["content"]  # where to post to the group
    assert session.scalar(select(Post.kind).where(Post.ap_id == note["id"])) == "unit"


def test_moderation_removes_members_and_resolves_reports(session: Session) -> None:
    run, group = grouped_run(session)
    cohorts.remove_member(session, group, "ann@example.org")
    assert cohorts.members(session, group) == []
    with pytest.raises(Invalid, match="not a member"):
        cohorts.remove_member(session, group, "ann@example.org")
    session.add(Report(activity_id="f1", reporter="https://social.example/users/x", targets=[urls.run(run.handle)]))
    session.flush()
    (report,) = reports.open_reports(session)
    with pytest.raises(Invalid, match="resolution"):
        reports.resolve_report(session, report.id, " ")
    reports.resolve_report(session, report.id, "no action")
    assert reports.open_reports(session) == [] and reports.resolved_reports(session)[0].resolution == "no action"


def test_undo_of_the_follow_leaves_the_run(session: Session) -> None:
    run, group = grouped_run(session)
    bea, _ = follow_run(session, run, "bea")
    follow = {"id": f"{bea}#follow", "type": "Follow", "actor": bea, "object": urls.run(run.handle)}
    assert f"{bea} left" in receive(session, {"id": "undo-1", "type": "Undo", "actor": bea, "object": follow})
    enrollment = session.scalar(select(Enrollment).where(Enrollment.actor == bea))
    assert enrollment is not None and enrollment.status == "left" and enrollment.next_due_at is None
    assert cohorts.fediverse_members(session, group) == []


def test_the_signup_form_joins_by_fediverse_handle(session: Session, remote: Any) -> None:
    run, group = grouped_run(session)
    zoe = "https://social.example/users/zoe"
    remote.actor(zoe, name="Zoe")
    webfinger = "http://social.example/.well-known/webfinger?resource=acct:zoe@social.example"
    remote.documents[webfinger] = {"links": [{"rel": "self", "type": "application/activity+json", "href": zoe}]}
    session.commit()  # the look-up runs with no transaction open, as the signup page does it
    assert fetch.prefetch("@zoe@social.example") == zoe
    enrollment = cohorts.join_by_handle(session, run, zoe)
    # Anyone can type Zoe's handle: she is in only once she opens the link posted to her directly.
    assert enrollment.actor == zoe and enrollment.name == "Zoe" and enrollment.status == "pending"
    assert enrollment.group_id is None
    sent = [body for _, body in deliveries(session, "Create") if body["object"]["to"] == [zoe]]
    assert len(sent) == 1 and urls.signup_confirm(enrollment.token) in sent[0]["object"]["content"]
    assert cohorts.join_by_handle(session, run, zoe).id == enrollment.id  # idempotent
    assert confirm(session, enrollment.token).already is False
    assert enrollment.status == "confirmed" and enrollment.group_id == group.id
    assert cohorts.join_by_handle(session, run, zoe).status == "confirmed"
    with pytest.raises(Invalid, match="not a fediverse handle"):
        fetch.prefetch("zoe at social")
    with pytest.raises(fetch.NotCached):  # never fetched: no network inside the transaction
        cohorts.join_by_handle(session, run, "https://social.example/users/nobody")
