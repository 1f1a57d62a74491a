"""Moderation across servers: a real Mastodon `Flag` becomes a community report; a suspended remote
actor (or domain) is refused by the inbox."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from community import moderation, sanctions
from community.models import Notification, Profile, Status
from community.models import Report as CommunityReport
from federation.flows import reports
from federation.models import Delivery, InboxActivity
from federation.models import Report as FederationReport
from server.floor import urls
from tests.community.moderation_support import account_of, person, status
from tests.community.moderation_support import remote as remote_profile
from tests.federation.conftest import InstanceClient, Remote, payload, signed_post
from tests.federation.test_inbox_types import receive

MASTODON = "https://mastodon.example/actor"


def test_a_mastodon_flag_about_a_local_person_becomes_a_community_report(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    admin, troll = person(session, "ada", "admin"), person(session, "troll")
    first, second = status(session, troll, "one"), status(session, troll, "two")
    replace = {
        "https://example.com/users/1": troll.uri,
        "https://example.com/posts/380590": urls.post(first.id),
        "https://example.com/posts/380591": str(second.ap_id),
    }
    row = receive(client, remote, "mastodon-flag", replace)
    assert row.state == "done" and "queued for the moderators" in row.outcome
    session.expire_all()
    report = session.scalar(select(CommunityReport))
    assert report is not None
    assert report.target_id == troll.id and sorted(report.status_ids) == sorted([first.id, second.id])
    assert report.comment == "Please take a look at this user and their posts"
    assert report.uri == payload("mastodon-flag")["id"] and report.reporter_id is None and not report.forward
    assert session.scalar(select(FederationReport)) is None  # one queue for people: the community's
    note = session.scalar(select(Notification).where(Notification.type == "admin.report"))
    assert note is not None and note.profile_id == admin.id and note.report_id == report.id

    # The same Flag again (a retry of the remote server) is the same report.
    again = dict(payload("mastodon-flag"), object=[troll.uri])
    assert signed_post(client, "/inbox", again, remote.keys[MASTODON]).status_code == 202
    client.process_inbox()
    assert len(session.scalars(select(CommunityReport)).all()) == 1


def test_a_flag_about_a_status_alone_reports_its_author(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    troll = person(session, "troll")
    post = status(session, troll, "reported alone")
    flag = dict(payload("mastodon-flag"), object=[urls.post(post.id)])
    key = remote.actor(MASTODON)
    assert signed_post(client, "/inbox", flag, key).status_code == 202
    client.process_inbox()
    report = session.scalar(select(CommunityReport))
    assert report is not None and report.target_id == troll.id and report.status_ids == [post.id]


def test_a_suspended_remote_actor_new_create_is_refused(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    moderator = account_of(session, person(session, "mo", "moderator"))
    create = payload("mastodon-create-note-public")
    actor = create["actor"]
    key = remote.actor(actor)
    spammer = remote_profile(session, "admin", "mastodon.example.org", uri=actor)
    sanctions.suspend(session, moderator, spammer.id, "spam wave")
    assert signed_post(client, "/inbox", create, key).status_code == 403
    sanctions.unsuspend(session, moderator, spammer.id, "it was a mistake")
    assert signed_post(client, "/inbox", create, key).status_code == 202


def test_a_suspended_domain_is_refused_and_a_silenced_one_is_not(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    moderator = account_of(session, person(session, "mo", "moderator"))
    create = payload("mastodon-create-note-public")
    key = remote.actor(create["actor"])
    sanctions.block_domain(session, moderator, "mastodon.example.org", "suspend", "a spam farm")
    assert signed_post(client, "/inbox", create, key).status_code == 403
    sanctions.block_domain(session, moderator, "mastodon.example.org", "silence", "calmer")
    assert signed_post(client, "/inbox", create, key).status_code == 202


def test_a_suspended_local_persons_actor_answers_410_until_lifted(client: InstanceClient, session: Session) -> None:
    moderator = account_of(session, person(session, "mo", "moderator"))
    troll = person(session, "troll")
    accept = {"Accept": "application/activity+json"}
    assert client.get("/users/troll", headers=accept).status_code == 200
    sanctions.suspend(session, moderator, troll.id, "ban evasion")
    gone = client.get("/users/troll", headers=accept)
    assert gone.status_code == 410 and gone.json()["type"] == "Tombstone"
    sanctions.unsuspend(session, moderator, troll.id, "appeal")
    assert client.get("/users/troll", headers=accept).status_code == 200


def test_a_forwarded_report_sends_an_anonymous_flag_to_the_targets_server(session: Session, remote: Remote) -> None:
    lena = person(session, "lena")
    spammer = remote_profile(session, "spam", "spam.example")
    note = status_of_remote(session, spammer)
    moderation.report(session, lena, spammer, [note.id], "spam in my mentions", "spam", forward=True)
    moderation.report(session, lena, spammer, [], "not forwarded", "spam", forward=False)
    (delivery,) = session.scalars(select(Delivery)).all()
    flag = json.loads(delivery.body)
    # To the actor's inbox (resolved when delivered, `actor:` targets) on the target's server only.
    assert delivery.host == "spam.example" and spammer.uri in delivery.inbox
    assert flag["type"] == "Flag" and flag["actor"] == urls.instance_actor()  # the instance, never lena
    assert flag["object"] == [spammer.uri, note.ap_id] and flag["content"] == "spam in my mentions"
    assert lena.uri not in delivery.body


def status_of_remote(session: Session, author: Profile) -> Status:
    """A remote status kept here (as the inbox would keep one that matters)."""
    return status(session, author, "buy cheap watches")


def test_one_server_files_at_most_fifty_reports_a_day(
    client: InstanceClient, session: Session, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "FLAGS_PER_DAY", 2)
    troll = person(session, "troll")
    key = remote.actor(MASTODON)
    for number in range(3):
        flag = dict(payload("mastodon-flag"), id=f"https://mastodon.example/flags/{number}", object=[troll.uri])
        assert signed_post(client, "/inbox", flag, key).status_code == 202
    client.process_inbox()
    assert len(session.scalars(select(CommunityReport)).all()) == 2
    outcomes = session.scalars(select(InboxActivity.outcome).where(InboxActivity.type == "Flag")).all()
    assert any(o.startswith("ignored: more than 2 reports from mastodon.example") for o in outcomes)


@pytest.mark.parametrize(
    ("name", "actor_ref", "status_ref", "comment"),
    [
        ("gotosocial-flag", "http://fossbros-anonymous.io/users/foss_satan",
         "http://fossbros-anonymous.io/users/foss_satan/statuses/01FVW7JHQFSFK166WWKR8CBA6M",
         "dark souls sucks, please yeet this nerd"),
        ("mbin-flag", "https://lemmy-test/u/BentiGorlich", "https://lemmy-test/post/4", "dikjhgasdpas dsaü"),
        ("lemmy-flag-page", None, "http://enterprise.lemmy.ml/post/7", "report this post"),
    ],
)  # fmt: skip
def test_flags_of_other_servers_become_reports(
    client: InstanceClient,
    session: Session,
    remote: Remote,
    name: str,
    actor_ref: str | None,
    status_ref: str,
    comment: str,
) -> None:
    troll = person(session, "troll")
    post = status(session, troll, "the reported post")
    replace = {status_ref: urls.post(post.id)} | ({actor_ref: troll.uri} if actor_ref else {})
    row = receive(client, remote, name, replace)
    assert "queued for the moderators" in row.outcome
    report = session.scalar(select(CommunityReport))
    assert report is not None and report.target_id == troll.id and report.status_ids == [post.id]
    assert report.comment == comment
