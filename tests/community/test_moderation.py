"""Moderation of the community: reports, the queue, sanctions and their effects, the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from community import graph, moderation, sanctions, timelines
from community.models import ModerationAction, Notification, Profile, Report
from federation.models import ActorBlock, DomainBlock
from federation.transport import moderation as federation_blocks
from server.floor.errors import Invalid, NotFound, PermissionDenied
from tests.community.moderation_support import account_of, events, follow, person, remote, status


def public_ids(session: Session) -> list[int]:
    """The public timeline (local and remote) as anyone sees it."""
    return [row.id for row in timelines.public(session, None)]


def home_ids(session: Session, viewer: Profile) -> list[int]:
    """`viewer`'s home timeline."""
    return [row.id for row in timelines.home(session, viewer)]


def test_a_report_reaches_every_moderator_and_publishes_its_event(session: Session) -> None:
    admin, mod, lena, troll = (
        person(session, h, r)
        for h, r in [("ada", "admin"), ("mo", "moderator"), ("lena", "learner"), ("troll", "learner")]
    )
    nasty = status(session, troll, "buy my pills")
    row = moderation.report(session, lena, troll, [nasty.id], "spam in the local timeline", "spam", forward=True)
    assert (row.reporter_id, row.target_id, row.status_ids, row.category) == (lena.id, troll.id, [nasty.id], "spam")
    assert row.forward is False  # a local account: nowhere to forward to
    assert events(session, "report.created") == [{"report_id": row.id, "forward": False}]
    notified = session.scalars(select(Notification).where(Notification.type == "admin.report")).all()
    assert {n.profile_id for n in notified} == {admin.id, mod.id}
    assert all(n.report_id == row.id and n.from_profile_id == lena.id for n in notified)
    assert {e["notification_id"] for e in events(session, "notification.created")} == {n.id for n in notified}
    assert moderation.open_count(session) == 1


def test_a_report_about_a_remote_account_may_be_forwarded(session: Session) -> None:
    lena = person(session, "lena")
    spammer = remote(session, "spam", "spam.example")
    note = status(session, spammer, "remote spam")
    row = moderation.report(session, lena, spammer, [note.id], "", "spam", forward=True)
    assert row.forward is True
    assert events(session, "report.created") == [{"report_id": row.id, "forward": True}]


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("account", {"target": "self"}),
        ("status_ids", {"status_ids": "other"}),
        ("status_ids", {"status_ids": "many"}),
        ("status_ids", {"status_ids": "private"}),
        ("comment", {"comment": "x" * 1001}),
        ("category", {"category": "boring"}),
    ],
)
def test_a_hostile_report_is_refused_naming_the_field(session: Session, field: str, change: dict[str, str]) -> None:
    lena, troll, other = person(session, "lena"), person(session, "troll"), person(session, "other")
    theirs = status(session, other, "not the troll's")
    mine = status(session, troll, "the troll's")
    hidden = status(session, troll, "for my followers only", visibility="private")
    target = lena if change.get("target") == "self" else troll
    ids = {"other": [theirs.id], "many": [mine.id + n for n in range(21)], "private": [hidden.id]}.get(
        change.get("status_ids", ""), [mine.id]
    )
    with pytest.raises(Invalid, match=field):
        moderation.report(session, lena, target, ids, change.get("comment", ""), change.get("category", "other"))
    assert session.scalar(select(Report)) is None


def test_a_person_reports_what_they_could_read_even_after_blocking_its_author(session: Session) -> None:
    lena, troll = person(session, "lena"), person(session, "troll")
    follow(session, lena, troll)
    hidden = status(session, troll, "followers only", visibility="private")
    assert moderation.report(session, lena, troll, [hidden.id], "", "other").status_ids == [hidden.id]
    loud = status(session, troll, "in public")
    graph.block(session, lena, troll)
    assert moderation.report(session, lena, troll, [loud.id], "", "other").status_ids == [loud.id]


def test_a_remote_flag_is_a_report_once(session: Session) -> None:
    admin, lena = person(session, "ada", "admin"), person(session, "lena")
    post = status(session, lena, "hello")
    first = moderation.receive_flag(
        session,
        uri="https://m.example/flags/1",
        reporter=None,
        target=lena,
        status_ids=[post.id, 12345],
        comment="look",
    )
    again = moderation.receive_flag(
        session, uri="https://m.example/flags/1", reporter=None, target=lena, comment="look"
    )
    assert first.id == again.id and first.status_ids == [post.id] and first.forward is False
    assert session.scalar(select(Notification.profile_id).where(Notification.type == "admin.report")) == admin.id


def test_only_moderators_act(session: Session) -> None:
    lena, troll = person(session, "lena"), person(session, "troll")
    learner = account_of(session, lena)
    row = moderation.report(session, lena, troll, [], "", "other")
    for act in (
        lambda: moderation.resolve(session, row.id, learner),
        lambda: sanctions.silence(session, learner, troll.id, "no"),
        lambda: sanctions.suspend(session, learner, troll.id, "no"),
        lambda: sanctions.block_domain(session, learner, "spam.example", "suspend"),
    ):
        with pytest.raises(PermissionDenied):
            act()
    assert session.scalar(select(ModerationAction)) is None


def test_resolving_a_report_is_logged_with_moderator_and_reason(session: Session) -> None:
    mod, lena, troll = person(session, "mo", "moderator"), person(session, "lena"), person(session, "troll")
    moderator = account_of(session, mod)
    row = moderation.report(session, lena, troll, [], "rude", "violation")
    moderation.resolve(session, row.id, moderator, "talked to them")
    assert row.resolved_at is not None and row.resolved_by_id == moderator.id
    with pytest.raises(Invalid, match="already resolved"):
        moderation.resolve(session, row.id, moderator)
    (entry,) = moderation.audit_log(session)
    assert (entry.moderator_id, entry.action, entry.reason, entry.report_id) == (
        moderator.id,
        "resolve_report",
        "talked to them",
        row.id,
    )
    assert moderation.reports(session) == [] and moderation.reports(session, resolved=True) == [row]
    moderation.reopen(session, row.id, moderator, "they did it again")
    assert row.resolved_at is None and moderation.reports(session) == [row]
    assert [e.action for e in moderation.audit_log(session, report_id=row.id)] == ["reopen_report", "resolve_report"]


def test_a_moderator_deletes_a_status(session: Session) -> None:
    mod, lena, troll = person(session, "mo", "moderator"), person(session, "lena"), person(session, "troll")
    follow(session, lena, troll)
    nasty = status(session, troll, "nasty")
    assert nasty.id in public_ids(session) and home_ids(session, lena) == [nasty.id]
    sanctions.delete_status(session, account_of(session, mod), nasty.id, "harassment")
    assert nasty.deleted and nasty.id not in public_ids(session) and home_ids(session, lena) == []
    assert events(session, "status.deleted") == [
        {"status_id": nasty.id, "profile_id": troll.id, "ap_id": nasty.ap_id, "reblog_of_id": None, "by": "moderator"}
    ]
    entry = session.scalar(select(ModerationAction))
    assert entry is not None and (entry.action, entry.target_status_id, entry.reason) == (
        "delete_status",
        nasty.id,
        "harassment",
    )
    with pytest.raises(NotFound):
        sanctions.delete_status(session, account_of(session, mod), nasty.id, "again")


def test_a_silenced_persons_posts_leave_public_but_stay_in_a_followers_home(session: Session) -> None:
    mod, lena, loud = person(session, "mo", "moderator"), person(session, "lena"), person(session, "loud")
    follow(session, lena, loud)
    post = status(session, loud, "LOOK AT ME")
    assert post.id in public_ids(session)
    sanctions.silence(session, account_of(session, mod), loud.id, "flooding the local timeline")
    assert post.id not in public_ids(session)
    assert home_ids(session, lena) == [post.id] and home_ids(session, loud) == [post.id]
    sanctions.unsilence(session, account_of(session, mod), loud.id, "calmer now")
    assert post.id in public_ids(session)
    actions = [(e.action, e.reason) for e in moderation.audit_log(session, profile_id=loud.id)]
    assert actions == [("unsilence", "calmer now"), ("silence", "flooding the local timeline")]


def test_a_silenced_person_notifies_only_their_followers(session: Session) -> None:
    mod, lena, otto, loud = (person(session, h) for h in ("mo", "lena", "otto", "loud"))
    account_of(session, mod).role = "moderator"
    follow(session, lena, loud)
    sanctions.silence(session, account_of(session, mod), loud.id, "mass mentions")
    status(session, loud, "@lena @otto look at my shop")
    mentioned = session.scalars(select(Notification.profile_id).where(Notification.type == "mention")).all()
    assert mentioned == [lena.id]


def test_a_suspended_local_person_is_hidden_and_cannot_log_in(session: Session) -> None:
    mod, lena, troll = person(session, "mo", "moderator"), person(session, "lena"), person(session, "troll")
    follow(session, lena, troll)
    post = status(session, troll, "troll post")
    assert home_ids(session, lena) == [post.id]
    account = account_of(session, troll)
    epoch = account.session_epoch
    sanctions.suspend(session, account_of(session, mod), troll.id, "ban evasion")
    session.refresh(account)
    assert account.disabled and account.session_epoch == epoch + 1
    assert post.id not in public_ids(session) and home_ids(session, lena) == []
    assert events(session, "profile.suspended") == [{"profile_id": troll.id, "uri": troll.uri, "local": True}]
    sanctions.unsuspend(session, account_of(session, mod), troll.id, "appeal accepted")
    assert not account.disabled and home_ids(session, lena) == [post.id]


def test_lifting_a_suspension_keeps_a_login_an_admin_disabled_before(session: Session) -> None:
    mod, troll = person(session, "mo", "moderator"), person(session, "troll")
    account = account_of(session, troll)
    account.disabled = True  # the admin's doing, on /admin/accounts
    sanctions.suspend(session, account_of(session, mod), troll.id, "spam")
    sanctions.unsuspend(session, account_of(session, mod), troll.id, "appeal")
    assert account.disabled
    account.disabled = False
    sanctions.suspend(session, account_of(session, mod), troll.id, "spam again")
    assert account.disabled
    sanctions.unsuspend(session, account_of(session, mod), troll.id, "appeal")
    assert not account.disabled


def test_a_moderator_cannot_suspend_an_admin_or_themselves(session: Session) -> None:
    admin, mod = person(session, "ada", "admin"), person(session, "mo", "moderator")
    with pytest.raises(Invalid, match="admin"):
        sanctions.suspend(session, account_of(session, mod), admin.id, "coup")
    with pytest.raises(Invalid, match="yourself"):
        sanctions.suspend(session, account_of(session, mod), mod.id, "oops")
    with pytest.raises(Invalid, match="admin"):
        sanctions.silence(session, account_of(session, mod), admin.id, "coup")
    sanctions.silence(session, account_of(session, admin), mod.id, "an admin may")


def test_a_suspended_remote_actor_is_refused_by_the_inbox(session: Session) -> None:
    mod = person(session, "mo", "moderator")
    spammer = remote(session, "spam", "bad.example")
    sanctions.suspend(session, account_of(session, mod), spammer.id, "spam")
    assert federation_blocks.refused(session, spammer.uri)
    sanctions.unsuspend(session, account_of(session, mod), spammer.id, "mistake")
    assert not federation_blocks.refused(session, spammer.uri)
    assert session.scalar(select(ActorBlock)) is None


def test_a_silenced_domain_silences_its_accounts_old_and_new_and_lifting_it_undoes_only_that(session: Session) -> None:
    mod = account_of(session, person(session, "mo", "moderator"))
    old = remote(session, "old", "loud.example")
    by_hand = remote(session, "hand", "sub.loud.example")
    other = remote(session, "fine", "quiet.example")
    sanctions.silence(session, mod, by_hand.id, "by hand first")
    hand_time = by_hand.silenced_at
    old_post = status(session, old, "old post")
    sanctions.block_domain(session, mod, "https://Loud.Example/", "silence", "a spam farm")
    newcomer = remote(session, "new", "loud.example")
    new_post = status(session, newcomer, "new post")
    session.refresh(old)
    assert old.silenced_at is not None and newcomer.silenced_at is not None and other.silenced_at is None
    assert old_post.id not in public_ids(session) and new_post.id not in public_ids(session)
    assert session.scalar(select(DomainBlock)) is None  # silenced, not refused
    sanctions.unblock_domain(session, mod, "loud.example", "cleaned up")
    for profile in (old, newcomer, by_hand):
        session.refresh(profile)
    assert old.silenced_at is None and newcomer.silenced_at is None and by_hand.silenced_at == hand_time
    assert [e.action for e in moderation.audit_log(session)] == ["domain_unblock", "domain_silence", "silence"]


def test_a_suspended_domain_is_refused_by_federation_and_downgrading_lifts_that(session: Session) -> None:
    mod = account_of(session, person(session, "mo", "moderator"))
    actor = remote(session, "x", "evil.example")
    sanctions.block_domain(session, mod, "evil.example", "suspend", "illegal content")
    session.refresh(actor)
    assert actor.suspended_at is not None
    assert federation_blocks.refused(session, "https://a.evil.example/users/y")
    sanctions.block_domain(session, mod, "evil.example", "silence", "they cleaned up a little")
    session.refresh(actor)
    assert actor.suspended_at is None and actor.silenced_at is not None
    assert not federation_blocks.refused(session, actor.uri)
    with pytest.raises(Invalid, match="domain"):
        sanctions.block_domain(session, mod, "evil.example", "silence")


def test_an_international_domain_is_blocked_by_its_ascii_name(session: Session) -> None:
    mod = account_of(session, person(session, "mo", "moderator"))
    assert sanctions.block_domain(session, mod, "Bücher.Example", "silence").domain == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    "domain", ["", "not a host", "http://", "testserver.localhost", "a..b", "x" * 300 + ".example"]
)
def test_a_domain_block_of_nonsense_or_ourselves_is_refused(session: Session, domain: str) -> None:
    mod = account_of(session, person(session, "mo", "moderator"))
    with pytest.raises(Invalid, match="domain"):
        sanctions.block_domain(session, mod, domain, "suspend")
