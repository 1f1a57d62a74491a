"""A study group as a space on the web (issue 13): members see their group, post and reply from the
page (by magic link or signed in), and the run's moderators approve, discard and delete; the CLI
does the same for held posts. Mail goes to a real SMTP sink; a fediverse member's copy is a Delivery."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from courses.facilitators import add_facilitator
from courses.models import Enrollment, Post, Run, StudyGroup
from federation.models import Delivery
from mail.lists import accept_group_mail
from mail.sender import send_all
from server.floor import urls
from server.floor.accounts import Account
from server.floor.config import use_settings
from server.floor.db import session_factory, session_scope
from server.floor.errors import Invalid
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.support.smtp import SmtpSink
from tests.web.conftest import CSRF, log_in

FAY = "https://social.example/users/fay"


@pytest.fixture
def sink(settings: Settings) -> Iterator[SmtpSink]:
    """The instance sends its mail to an aiosmtpd sink."""
    with SmtpSink() as smtp:
        use_settings(replace(settings, smtp_url=smtp.url, smtp_connections=2))
        yield smtp
        use_settings(settings)


@pytest.fixture
def world(settings: Settings, people: dict[str, str]) -> dict[str, str]:
    """A run organised by otto: one group of ann, bob, cy (email) and fay (fediverse); tokens by name."""
    with session_scope() as session:
        run = gentle_run(session, [(f"{n}@example.org", n.title(), "UTC") for n in ("ann", "bob", "cy")])
        otto = session.scalars(select(Account).where(Account.email == people["organizer"])).one()
        run = session.get(Run, run.id)
        assert run is not None
        run.organizer_id = otto.id
        group = session.scalars(select(StudyGroup)).one()
        session.add(
            Enrollment(
                run_id=run.id, actor=FAY, name="Fay", status="confirmed", group_id=group.id,
                token=secrets.token_hex(16),
            )
        )  # fmt: skip
        session.flush()
        tokens = {e.name.lower(): e.token for e in session.scalars(select(Enrollment))}
        return {**tokens, "group": group.handle, "run": run.handle}


def csrf(client: TestClient, path: str) -> str:
    """The session's CSRF token from a form on `path` (signed in, /login redirects: /account has one)."""
    answer = client.get(path, follow_redirects=False)
    if answer.status_code in (302, 303):
        answer = client.get("/account", follow_redirects=False)
    match = CSRF.search(answer.text)
    assert match, path
    return match.group(1)


def sign_in(client: TestClient, email: str) -> None:
    """A fresh browser session signed in as `email` (the cookie jar emptied first)."""
    client.cookies.clear()
    assert log_in(client, email).status_code == 303


def post_by_link(client: TestClient, token: str, text: str, **extra: str) -> int:
    page = f"/me/{token}/group"
    answer = client.post(
        f"{page}/posts", data={"csrf_token": csrf(client, page), "text": text, **extra}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("#post-", 1)[1])


def copies(session: Session, post_id: int, kind: str = "Create") -> list[Delivery]:
    prefix = urls.absolute(f"/posts/{post_id}/to/")
    rows = session.scalars(select(Delivery).where(Delivery.activity_id.startswith(prefix)))
    return [row for row in rows if f'"type":"{kind}"' in row.body]


def test_a_member_posts_by_magic_link_and_the_group_gets_it(
    client: TestClient, world: dict[str, str], sink: SmtpSink
) -> None:
    page = client.get(f"/me/{world['ann']}/group")
    assert page.status_code == 200
    assert "Bob" in page.text and "Fay" in page.text and FAY in page.text  # members, fediverse handle
    assert "bob@example.org" not in page.text  # members never see each other's addresses
    assert "Moderated by" in page.text and "(organizer)" not in page.text and "organizer)" in page.text
    post_id = post_by_link(client, world["ann"], "Hello all\nsecond line\n\n> what the unit said", subject="Hi")
    with session_scope() as session:
        post = session.get(Post, post_id)
        assert post is not None and (post.source, post.author_email, post.held) == ("web", "ann@example.org", False)
        assert len(copies(session, post_id)) == 1  # fay's copy, from the course
        send_all(session)
    relayed = sorted(m.recipients[0] for m in sink.received if b"second line" in m.data)
    assert relayed == ["bob@example.org", "cy@example.org"]
    shown = client.get(f"/me/{world['bob']}/group").text
    assert "Hello all<br>second line" in shown
    assert "<blockquote><p>what the unit said</p></blockquote>" in shown


def test_a_reply_nests_under_its_parent_and_mail_threads(
    client: TestClient, world: dict[str, str], sink: SmtpSink
) -> None:
    first = post_by_link(client, world["ann"], "Who is stuck on loops?", subject="Loops")
    other = post_by_link(client, world["cy"], "A new thread", subject="Other")
    reply = post_by_link(client, world["bob"], "Me, a little.", reply_to=str(first))
    with session_scope() as session:
        post = session.get(Post, reply)
        assert post is not None and post.in_reply_to_id == first and post.thread_id == first
        assert post.subject == "Re: Loops" and post.in_reply_to_ref == session.get(Post, first).message_id  # type: ignore[union-attr]
        send_all(session)
    replied = [m for m in sink.received if b"Me, a little." in m.data]
    assert replied and all(b"In-Reply-To: <post-" in m.data for m in replied)
    page = client.get(f"/me/{world['ann']}/group").text
    parent_at, replies_at, reply_at = (
        page.index(f'id="post-{first}"'),
        page.index('class="replies"'),
        page.index(f'id="post-{reply}"'),
    )
    assert parent_at < replies_at < reply_at and f'id="post-{other}"' not in page[parent_at:reply_at]
    # A reply to a post of another group, or to nothing, is refused with the form kept.
    refused = client.post(
        f"/me/{world['bob']}/group/posts",
        data={"csrf_token": csrf(client, "/login"), "text": "kept text", "reply_to": "999999999"},
    )
    assert refused.status_code == 400 and "kept text" in refused.text


def test_posting_needs_a_member_and_a_token(client: TestClient, world: dict[str, str], people: dict[str, str]) -> None:
    token = csrf(client, "/login")
    assert client.post("/me/nope/group/posts", data={"csrf_token": token, "text": "x"}).status_code == 404
    assert client.post(f"/me/{world['ann']}/group/posts", data={"text": "x"}).status_code == 403  # no CSRF
    empty = client.post(f"/me/{world['ann']}/group/posts", data={"csrf_token": token, "text": "  "})
    assert empty.status_code == 400 and "Write something" in empty.text
    sign_in(client, people["learner"])  # lena: not a member
    token = csrf(client, "/login")
    assert client.post(f"/groups/{world['group']}/posts", data={"csrf_token": token, "text": "x"}).status_code == 403
    with session_scope() as session:
        assert session.scalar(select(Post.id)) is None


def held_mail(group: str, sender: str, subject: str) -> int:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, urls.group_address(group), subject
    message["Message-ID"] = f"<{secrets.token_hex(6)}@example.net>"
    message.set_content(f"{subject} body text")
    with session_scope() as session:
        group_row = session.scalars(select(StudyGroup).where(StudyGroup.handle == group)).one()
        assert accept_group_mail(session, group_row, message, bytes(message)) == "held"
        return session.scalars(select(Post.id).where(Post.subject == subject)).one()


def test_held_mail_approved_from_the_web_is_relayed_and_discarded_is_not(
    client: TestClient, world: dict[str, str], people: dict[str, str], sink: SmtpSink
) -> None:
    keep, drop = (
        held_mail(world["group"], "guest@example.net", "Keep me"),
        held_mail(world["group"], "spam@example.net", "Drop me"),
    )
    assert "Keep me" not in client.get(f"/me/{world['ann']}/group").text  # members never see held mail
    page = f"/groups/{world['group']}"
    # A member, a stranger and anyone signed out may not moderate.
    for who in (None, people["learner"]):
        if who:
            sign_in(client, who)
        answer = client.post(f"{page}/posts/{keep}/approve", data={"csrf_token": csrf(client, "/login")})
        assert answer.status_code == 403
    sign_in(client, people["organizer"])
    shown = client.get(page).text
    assert "Keep me" in shown and f"/posts/{keep}/approve" in shown and f"/posts/{drop}/discard" in shown
    for post_id, action in ((keep, "approve"), (drop, "discard")):
        answer = client.post(
            f"{page}/posts/{post_id}/{action}", data={"csrf_token": csrf(client, "/login")}, follow_redirects=False
        )
        assert answer.status_code == 303
    again = client.post(f"{page}/posts/{keep}/approve", data={"csrf_token": csrf(client, "/login")})
    assert again.status_code == 404  # approved already
    with session_scope() as session:
        assert len(copies(session, keep)) == 1 and copies(session, drop) == []
        send_all(session)
    assert sorted(m.recipients[0] for m in sink.received if b"Keep me" in m.data) == [
        "ann@example.org", "bob@example.org", "cy@example.org",
    ]  # fmt: skip
    assert not [m for m in sink.received if b"Drop me" in m.data]
    assert "Drop me" not in client.get(page).text


def test_an_organizer_deletes_a_post_and_every_copy_is_deleted(
    client: TestClient, world: dict[str, str], people: dict[str, str]
) -> None:
    post_id = post_by_link(client, world["ann"], "An unkind word")
    page = f"/groups/{world['group']}"
    sign_in(client, people["learner"])
    assert client.post(f"{page}/posts/{post_id}/delete", data={"csrf_token": csrf(client, "/login")}).status_code == 403
    sign_in(client, people["organizer"])
    assert (
        client.post(
            f"{page}/posts/{post_id}/delete", data={"csrf_token": csrf(client, "/login")}, follow_redirects=False
        ).status_code
        == 303
    )
    assert (
        client.post(
            f"{page}/posts/{post_id}/delete", data={"csrf_token": csrf(client, "/login")}, follow_redirects=False
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"{page}/posts/{post_id}/burn", data={"csrf_token": csrf(client, "/login")}, follow_redirects=False
        ).status_code
        == 404
    )
    with session_scope() as session:
        assert len(copies(session, post_id, "Delete")) == len(copies(session, post_id, "Create")) == 1
    shown = client.get(f"/me/{world['bob']}/group").text
    assert "This post was deleted." in shown and "An unkind word" not in shown


def test_a_facilitator_named_by_the_organizer_moderates_the_run_s_groups(
    client: TestClient, world: dict[str, str], people: dict[str, str]
) -> None:
    post_id = post_by_link(client, world["ann"], "Off topic")
    sign_in(client, people["organizer"])
    run_page = f"/organize/runs/{world['run']}"
    added = client.post(
        f"{run_page}/facilitators",
        data={"csrf_token": csrf(client, "/login"), "who": "lena@example.org"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert "now moderates" in client.get(run_page).text
    unknown = client.post(
        f"{run_page}/facilitators",
        data={"csrf_token": csrf(client, "/login"), "who": "@nobody"},
        follow_redirects=False,
    )
    assert unknown.status_code == 303 and "No account" in client.get(run_page).text
    group_page = f"/groups/{world['group']}"
    assert "facilitator)" in client.get(group_page).text
    sign_in(client, people["learner"])
    # A facilitator may not name facilitators, but may moderate.
    assert (
        client.post(
            f"{run_page}/facilitators", data={"csrf_token": csrf(client, group_page), "who": "ada@example.org"}
        ).status_code
        == 403
    )
    answer = client.post(
        f"{group_page}/posts/{post_id}/delete", data={"csrf_token": csrf(client, "/login")}, follow_redirects=False
    )
    assert answer.status_code == 303


def test_the_cli_lists_approves_and_discards_held_posts(
    world: dict[str, str], sink: SmtpSink, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import server.roof.cli.run_posts as run_posts
    from server.roof.cli import main

    # The instance this test booted (either backend), as `mechmooc` boots it from its environment.
    monkeypatch.setattr(run_posts, "instance", lambda migrate=True: settings)
    keep, drop = (
        held_mail(world["group"], "guest@example.net", "Via CLI"),
        held_mail(world["group"], "spam@example.net", "Not this"),
    )
    listed = CliRunner().invoke(main, ["run", "held", world["run"], "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"from": "guest@example.net"' in listed.output and f'"id": {drop}' in listed.output
    assert CliRunner().invoke(main, ["run", "approve", str(keep)]).output.startswith(f"post {keep} approved")
    assert CliRunner().invoke(main, ["run", "discard", str(drop)]).exit_code == 0
    missing = CliRunner().invoke(main, ["run", "approve", str(drop)])
    assert missing.exit_code == 1 and "error:" in missing.output
    assert CliRunner().invoke(main, ["run", "held", world["run"]]).output.strip() == "no held posts"
    session = session_factory()()
    send_all(session)
    session.close()
    assert len([m for m in sink.received if b"Via CLI" in m.data]) == 3 and b"Not this" not in b"".join(
        m.data for m in sink.received
    )


def test_a_member_signed_in_posts_from_the_group_page(
    client: TestClient, world: dict[str, str], people: dict[str, str]
) -> None:
    with session_scope() as session:
        lena = session.scalars(select(Account).where(Account.email == people["learner"])).one()
        ann = session.scalars(select(Enrollment).where(Enrollment.email == "ann@example.org")).one()
        ann.account_id = lena.id
    sign_in(client, people["learner"])
    page = f"/groups/{world['group']}"
    assert "Post to the group" in client.get(page).text
    answer = client.post(
        f"{page}/posts", data={"csrf_token": csrf(client, page), "text": "Signed in"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert re.search(r"Signed in", client.get(page).text)


def test_facilitator_rows_need_a_local_account(world: dict[str, str]) -> None:
    with session_scope() as session:
        run = session.scalars(select(Run)).one()
        with pytest.raises(Exception, match="no account"):
            add_facilitator(session, run, "someone@elsewhere.example")


def test_a_closed_group_takes_no_post_from_the_web(client: TestClient, world: dict[str, str]) -> None:
    from courses.closing import close_group
    from courses.posts import store_group_post

    with session_scope() as session:
        group = session.scalars(select(StudyGroup).where(StudyGroup.handle == world["group"])).one()
        assert close_group(session, group)
    page = f"/me/{world['ann']}/group"
    answer = client.post(page + "/posts", data={"csrf_token": csrf(client, page), "text": "anyone still here?"})
    assert answer.status_code == 400 and "closed by its organizer" in answer.text
    with session_scope() as session:
        assert session.scalars(select(Post)).all() == []
        group = session.scalars(select(StudyGroup).where(StudyGroup.handle == world["group"])).one()
        with pytest.raises(Invalid, match="closed by its organizer"):
            store_group_post(session, group, source="web", text="through the back door")
