"""What a fediverse learner sends and gets, through the real inbox, with captured payloads of
Mastodon, GoToSocial, Lemmy and Misskey re-signed with keys we control (issue 13).

A run of gentle-python with one email learner (Ann); fediverse learners join by following the
run. Replies to the course's notes, a Lemmy private message, a Misskey post to the group, edits
and deletions, follows of a study group, and forwarded activities.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.groups import form_groups
from courses.models import Enrollment, Post, Run, StudyGroup
from courses.posts import delete_post
from courses.signup import admin_enroll
from federation.models import Delivery, Follower, InboxActivity
from federation.transport import fetch
from server.floor import urls
from server.floor.clock import now
from server.floor.db import session_scope
from server.floor.events import DomainEvent, publish
from tests.federation.conftest import InstanceClient, Remote, payload, signed_post
from tests.federation.flows_support import course_and_run

JOHN = "https://mastodon/users/john"  # mastodon-create-note-flow.json / mastodon-update-note.json
NUTOMIC = "https://mastodon.world/users/nutomic"  # mastodon-note-direct-reply.json
ADMIN = "http://localhost:8080/users/admin"  # gotosocial-note-mention-reply.json
BETA = "http://enterprise.lemmy.ml/u/lemmy_beta"  # lemmy-create-private-message.json
MISSKEY = "https://mk.absturztau.be/users/8ozbzjs3o8"  # misskey-create-note.json


def swap(document: dict[str, Any], replace: dict[str, str]) -> dict[str, Any]:
    """The document with every occurrence of each key replaced by its value."""
    text = json.dumps(document)
    for old, new in replace.items():
        text = text.replace(old, new)
    return dict(json.loads(text))


def post_in(client: InstanceClient, remote: Remote, activity: dict[str, Any], signer: str | None = None) -> str:
    """POST `activity` to the shared inbox signed by its actor (or `signer`), apply it; the outcome."""
    actor = signer or activity["actor"]
    key = remote.keys.get(actor) or remote.actor(actor)
    response = signed_post(client, "/inbox", activity, key)
    assert response.status_code == 202, response.text
    client.process_inbox()
    with session_scope() as session:
        row = session.scalars(select(InboxActivity).order_by(InboxActivity.id.desc())).first()
        assert row is not None
        return f"{row.state}: {row.outcome} {row.last_error or ''}"


def join(client: InstanceClient, remote: Remote, run: Run, actor: str, name: str = "Learner") -> None:
    """The account follows the run (its way of joining)."""
    remote.actor(actor, name=name, preferredUsername=actor.rstrip("/").rsplit("/", 1)[-1])
    follow = {"id": f"{actor}#follow-run", "type": "Follow", "actor": actor, "object": urls.run(run.handle)}
    assert "enrolled" in post_in(client, remote, follow)


def cohort(session: Session, client: InstanceClient, remote: Remote, *actors: str) -> tuple[Run, StudyGroup]:
    """A run with Ann (email) and the given fediverse accounts in its one study group."""
    _course, run = course_and_run(session)
    admin_enroll(session, run, "ann@example.org", "Ann")
    form_groups(session, run)
    session.commit()
    for actor in actors:
        join(client, remote, run, actor)
    group = session.scalar(select(StudyGroup).where(StudyGroup.run_id == run.id))
    assert group is not None
    return run, group


def sent(session: Session, kind: str, to: str) -> list[dict[str, Any]]:
    """The activities of type `kind` delivered to (addressed to) `to`."""
    session.expire_all()
    bodies = [json.loads(b) for b in dict.fromkeys(session.scalars(select(Delivery.body).order_by(Delivery.id)))]
    return [b for b in bodies if b.get("type") == kind and to in b.get("to", [])]


def group_posts(session: Session, group: StudyGroup) -> list[Post]:
    session.expire_all()
    return list(session.scalars(select(Post).where(Post.group_id == group.id).order_by(Post.id)))


def post_created(session: Session) -> list[int]:
    return [
        p["post_id"] for p in session.scalars(select(DomainEvent.payload).where(DomainEvent.name == "post.created"))
    ]


def test_a_mastodon_reply_to_a_unit_is_a_post_in_the_group(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    run, group = cohort(session, client, remote, NUTOMIC, JOHN)
    nutomic = session.scalar(select(Enrollment).where(Enrollment.actor == NUTOMIC))
    assert nutomic is not None
    publish(session, "unit.due_for_actor", {"enrollment_id": nutomic.id, "position": 0, "key": "unit:t:0"})
    session.commit()
    (unit,) = [c["object"] for c in sent(session, "Create", NUTOMIC)]
    course = urls.course(run.course.slug)
    # The Mastodon DM captured in Lemmy's repository, as a reply to that unit (Mastodon's reply mentions the author).
    note = swap(payload("mastodon-note-direct-reply"), {"https://ds9.lemmy.ml/u/nutomic": course})
    note["inReplyTo"] = unit["id"]
    create = {"id": f"{note['id']}/activity", "type": "Create", "actor": NUTOMIC, "to": note["to"], "object": note}
    assert "reply posted" in post_in(client, remote, create)
    (post,) = group_posts(session, group)
    assert post.author_actor == NUTOMIC and post.source == "activitypub" and "444" in post.text
    assert post_created(session) == [post.id]  # the mail package relays it to Ann
    (copy,) = sent(session, "Create", JOHN)  # and John, on the fediverse, gets it as a note for him
    assert copy["actor"] == course and "444" in copy["object"]["content"]
    assert copy["object"]["tag"] == [{"type": "Mention", "href": JOHN, "name": "@john@mastodon"}]


def test_a_gotosocial_reply_to_a_copy_continues_the_thread(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    run, group = cohort(session, client, remote, ADMIN, JOHN)
    first = Post(group_id=group.id, run_id=run.id, source="email", author_email="ann@example.org",
                 author_name="Ann", text="Who has done unit 1?")  # fmt: skip
    session.add(first)
    session.flush()
    first.thread_id = first.id
    publish(session, "post.created", {"post_id": first.id})
    session.commit()
    (copy,) = [c["object"] for c in sent(session, "Create", ADMIN)]
    course = urls.course(run.course.slug)
    # GoToSocial's serialized status (tag a single object, to a string), replying to its copy.
    note = swap(payload("gotosocial-note-mention-reply"), {"http://localhost:8080/users/the_mighty_zork": course})
    note.pop("@context")
    note["inReplyTo"] = copy["id"]
    create = {"id": f"{note['id']}/activity", "type": "Create", "actor": ADMIN, "to": note["to"],
              "cc": note["cc"], "object": note}  # fmt: skip
    assert "reply posted" in post_in(client, remote, create)
    _first, reply = group_posts(session, group)
    assert reply.in_reply_to_id == first.id and reply.thread_id == first.id and "welcome" in reply.text
    (john_copy,) = [c["object"] for c in sent(session, "Create", JOHN) if "welcome" in c["object"]["content"]]
    assert john_copy["inReplyTo"] == urls.absolute(f"/posts/{first.id}/to/{_enrollment(session, JOHN).id}")


def test_a_lemmy_private_message_to_the_course_is_a_post_in_the_authors_group(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    run, group = cohort(session, client, remote, BETA)
    course = urls.course(run.course.slug)
    message = swap(payload("lemmy-create-private-message"), {"http://ds9.lemmy.ml/u/lemmy_alpha": course})
    assert "reply posted" in post_in(client, remote, message)
    (post,) = group_posts(session, group)
    assert post.author_actor == BETA and post.text == "hello"
    # Somebody in no group of this course writing to it is not posted anywhere.
    stranger = swap(message, {BETA: "http://enterprise.lemmy.ml/u/other", "987d05fa": "111d05fa"})
    assert "ignored" in post_in(client, remote, stranger)
    assert len(group_posts(session, group)) == 1


def test_a_misskey_post_to_the_group_reaches_everyone(client: InstanceClient, session: Session, remote: Remote) -> None:
    _run, group = cohort(session, client, remote, MISSKEY, JOHN)
    create = swap(payload("misskey-create-note"), {f"{MISSKEY}/followers": urls.group(group.handle)})
    assert "post" in post_in(client, remote, create)
    (post,) = group_posts(session, group)
    assert post.text == "meow" and post_created(session) == [post.id]
    (copy,) = sent(session, "Create", JOHN)
    assert copy["object"]["to"] == [JOHN] and "meow" in copy["object"]["content"]
    assert sent(session, "Create", MISSKEY) == [] and sent(session, "Announce", JOHN) == []


def test_an_edit_and_a_deletion_reach_the_copies(client: InstanceClient, session: Session, remote: Remote) -> None:
    _run, group = cohort(session, client, remote, JOHN, NUTOMIC)
    group_id = urls.group(group.handle)
    assert "post" in post_in(
        client, remote, swap(payload("mastodon-create-note-flow"), {f"{JOHN}/followers": group_id})
    )
    assert "edited post" in post_in(
        client, remote, swap(payload("mastodon-update-note"), {f"{JOHN}/followers": group_id})
    )
    (post,) = group_posts(session, group)
    assert "By updating it" in post.text
    (update,) = sent(session, "Update", NUTOMIC)
    (copy,) = sent(session, "Create", NUTOMIC)
    assert update["object"]["id"] == copy["object"]["id"] and "By updating it" in update["object"]["content"]
    delete = swap(payload("mastodon-delete-note"), {"https://mastodon.madrid/users/felix": JOHN,
                                                   "107773559874184870": "9876"})  # fmt: skip
    assert "deleted post" in post_in(client, remote, delete)
    session.expire_all()
    assert post.deleted and post.text == ""
    (gone,) = sent(session, "Delete", NUTOMIC)
    assert gone["object"]["id"] == copy["object"]["id"] and gone["actor"] == copy["actor"]


def test_a_moderator_deleting_a_post_undoes_the_groups_earlier_boost(session: Session) -> None:
    _course, run = course_and_run(session)
    admin_enroll(session, run, "ann@example.org", "Ann")
    form_groups(session, run)
    group = session.scalar(select(StudyGroup).where(StudyGroup.run_id == run.id))
    assert group is not None
    post = Post(group_id=group.id, run_id=run.id, source="activitypub", author_actor=JOHN, author_name="John",
                ap_id=f"{JOHN}/statuses/1", text="old")  # fmt: skip
    session.add(post)
    session.flush()
    # An Announce the group sent before copies existed (FEP-1b12), as the delivery table kept it.
    group_id = urls.group(group.handle)
    boost = {"id": f"{group_id}#announce-1", "type": "Announce", "actor": group_id,
             "to": [f"{group_id}/followers", NUTOMIC], "object": post.ap_id}  # fmt: skip
    session.add(Delivery(activity_id=boost["id"], sender=group_id, inbox="https://mastodon.world/inbox",
                         host="mastodon.world", body=json.dumps(boost), next_attempt_at=now(), state="done"))  # fmt: skip
    session.flush()
    assert delete_post(session, post, by="moderator") and not delete_post(session, post, by="moderator")
    (undo,) = sent(session, "Undo", NUTOMIC)
    assert undo["actor"] == group_id and undo["object"]["id"] == boost["id"]


def test_following_a_study_group_joins_or_is_rejected(client: InstanceClient, session: Session, remote: Remote) -> None:
    run, group = cohort(session, client, remote, JOHN)
    group_id = urls.group(group.handle)
    # Lemmy's Follow of a community, aimed at the study group by someone not yet in the run.
    follow = swap(payload("lemmy-follow-group"), {"http://enterprise.lemmy.ml/c/main": group_id})
    remote.actor("http://ds9.lemmy.ml/u/lemmy_alpha", preferredUsername="lemmy_alpha")
    assert "accepted follower" in post_in(client, remote, follow)
    session.expire_all()
    alpha = _enrollment(session, "http://ds9.lemmy.ml/u/lemmy_alpha")
    assert alpha.status == "confirmed" and alpha.group_id == group.id
    assert session.scalar(select(Follower.id).where(Follower.actor == group_id)) is not None
    (accept,) = [b for b in _bodies(session, "Accept") if b["actor"] == group_id]
    assert accept["object"]["id"] == follow["id"]
    # Run full: the follower joins the run (its waiting list) but not this group, and hears so.
    run.capacity = 3
    session.commit()
    late = "https://social.example/users/late"
    remote.actor(late, preferredUsername="late")
    outcome = post_in(client, remote, {"id": f"{late}#f", "type": "Follow", "actor": late, "object": group_id})
    assert "rejected follow" in outcome and "waitlisted" in outcome
    assert [b for b in _bodies(session, "Reject") if b["object"]["actor"] == late]
    # An instance actor is not a learner: rejected, not enrolled.
    bot = "https://social.example/users/bot"
    remote.actor(bot, type="Application")
    assert "rejected follow" in post_in(
        client, remote, {"id": f"{bot}#f", "type": "Follow", "actor": bot, "object": group_id}
    )
    assert session.scalar(select(Enrollment.id).where(Enrollment.actor == bot)) is None


def test_following_the_run_confirms_a_signup_by_handle(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    from federation.flows.cohorts import join_by_handle

    run, _group = cohort(session, client, remote)
    zoe = "https://social.example/users/zoe"
    remote.actor(zoe, preferredUsername="zoe")
    session.commit()
    fetch.prefetch(zoe)
    pending = join_by_handle(session, run, zoe)
    session.commit()
    (confirmation,) = [c["object"] for c in sent(session, "Create", zoe)]
    assert confirmation["attributedTo"] == urls.course(run.course.slug) and confirmation["cc"] == [
        confirmation["attributedTo"]
    ]
    assert (
        f"@{run.handle}@" in confirmation["content"] and urls.signup_confirm(pending.token) in confirmation["content"]
    )
    join(client, remote, run, zoe)  # a Follow signed by Zoe's own server proves the account is hers
    session.expire_all()
    assert _enrollment(session, zoe).status == "confirmed"


def test_a_forwarded_reply_is_believed_as_its_origin_serves_it(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    _run, group = cohort(session, client, remote, JOHN, NUTOMIC)
    create = swap(payload("mastodon-create-note-flow"), {f"{JOHN}/followers": urls.group(group.handle)})
    forged = json.loads(json.dumps(create))
    forged["object"]["content"] = "<p>words John never wrote</p>"
    remote.actor(JOHN)
    remote.documents[create["object"]["id"]] = create["object"]  # what John's server serves
    # Signed by Nutomic's server, not John's: Mastodon forwarding a reply. 202, then checked at its origin.
    outcome = post_in(client, remote, forged, signer=NUTOMIC)
    assert outcome.startswith("done") and "post" in outcome
    (post,) = group_posts(session, group)
    assert post.author_actor == JOHN and "Creating Test Data" in post.text and "never wrote" not in post.text
    assert create["object"]["id"] in remote.fetches


def test_a_forwarded_activity_the_origin_denies_does_nothing(
    client: InstanceClient, session: Session, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run, group = cohort(session, client, remote, JOHN, NUTOMIC)
    create = swap(payload("mastodon-create-note-flow"), {f"{JOHN}/followers": urls.group(group.handle)})
    remote.actor(JOHN)
    outcome = post_in(client, remote, create, signer=NUTOMIC)  # John's server: 404
    assert "does not serve" in outcome and group_posts(session, group) == []
    # A forwarded Delete of a post its origin still serves is not believed; one it no longer serves is.
    kept = Post(group_id=group.id, run_id=group.run_id, source="activitypub", author_actor=JOHN,
                ap_id=create["object"]["id"], text="still here")  # fmt: skip
    session.add(kept)
    session.commit()
    delete = swap(
        payload("mastodon-delete-note"), {"https://mastodon.madrid/users/felix": JOHN, "107773559874184870": "9876"}
    )
    remote.documents[create["object"]["id"]] = create["object"]
    assert "still serves" in post_in(client, remote, delete, signer=NUTOMIC)
    session.expire_all()
    assert not kept.deleted
    # A server that cannot be reached now: tried again later, nothing done yet.
    monkeypatch.setattr(
        fetch, "get_json", lambda url, key, **_: (_ for _ in ()).throw(fetch.FetchError(f"{url}: timed out"))
    )
    retried = swap(delete, {"#delete": "#delete-again"})
    assert post_in(client, remote, retried, signer=NUTOMIC).startswith("queued")
    del remote.documents[create["object"]["id"]]  # now deleted at its origin: 404
    monkeypatch.setattr(fetch, "get_json", remote.get_json)
    with session_scope() as s:
        row = s.scalars(select(InboxActivity).order_by(InboxActivity.id.desc())).first()
        assert row is not None
        row.next_attempt_at = row.received_at
    assert client.process_inbox() == 1
    session.expire_all()
    assert kept.deleted


def _enrollment(session: Session, actor: str) -> Enrollment:
    found = session.scalar(select(Enrollment).where(Enrollment.actor == actor))
    assert found is not None
    return found


def _bodies(session: Session, kind: str) -> list[dict[str, Any]]:
    session.expire_all()
    bodies = [json.loads(b) for b in session.scalars(select(Delivery.body))]
    return [b for b in bodies if b.get("type") == kind]
