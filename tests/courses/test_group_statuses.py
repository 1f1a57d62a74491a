"""Group posts are community statuses: by the author's profile, in the home feeds of the members
who have a local account, who are told (`group_post`); deleting one takes it out again."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import search, timelines
from community.models import Notification
from community.people import local_profile, upsert_remote
from courses.models import StudyGroup
from courses.posts import delete_post, store_group_post
from server.floor.accounts import create_account
from tests.mail.conftest import gentle_run


def test_a_group_post_reaches_members_with_accounts(session: Session) -> None:
    gentle_run(session, [(f"{n}@example.org", n.title(), "UTC") for n in ("ann", "bob", "cy")])
    ann = local_profile(session, create_account(session, "Ann@Example.org", handle="ann"))
    bob = local_profile(session, create_account(session, "bob@example.org", handle="bob"))
    dan = local_profile(session, create_account(session, "dan@example.org", handle="dan"))  # not a member
    group = session.scalars(select(StudyGroup)).one()

    post = store_group_post(session, group, source="email", text="Week one notes", author_email="ann@example.org")
    assert post.profile_id == ann.id and post.local and post.visibility == "group"
    assert [s.id for s in timelines.home(session, bob)] == [post.id]
    assert [s.id for s in timelines.home(session, ann)] == [post.id]
    assert timelines.home(session, dan) == []
    assert [s.id for s in timelines.of_group(session, bob, group.id)] == [post.id]
    told = session.scalars(select(Notification).where(Notification.type == "group_post")).all()
    assert [(n.profile_id, n.from_profile_id, n.status_id) for n in told] == [(bob.id, ann.id, post.id)]
    assert [s.id for s in search.statuses(session, ann, "week notes")] == [post.id]  # one's own
    assert search.statuses(session, dan, "week notes") == []  # a group post is not public

    assert delete_post(session, post, "author")
    assert timelines.home(session, bob) == []
    assert session.scalars(select(Notification).where(Notification.type == "group_post")).all() == []
    assert search.statuses(session, ann, "week notes") == []


def test_a_fediverse_post_is_by_the_known_remote_profile(session: Session) -> None:
    gentle_run(session, [("bob@example.org", "Bob", "UTC")])
    bob = local_profile(session, create_account(session, "bob@example.org", handle="bob"))
    fay = upsert_remote(session, uri="https://social.example/users/fay", username="fay", domain="social.example")
    group = session.scalars(select(StudyGroup)).one()
    post = store_group_post(
        session,
        group,
        source="activitypub",
        ap_id="https://social.example/notes/1",
        text="hi",
        html="<p>hi</p>",
        author_actor=fay.uri,
    )
    assert post.profile_id == fay.id and post.local is False
    assert [s.id for s in timelines.home(session, bob)] == [post.id]
    email_only = store_group_post(session, group, source="email", text="hello", author_email="cy@example.org")
    assert email_only.profile_id is None
