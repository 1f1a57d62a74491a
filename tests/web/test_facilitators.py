"""What a run's facilitator may do in its study groups (issue 12, item 2): release held mail, post
announcements to a group they are not a member of, remove posts; and what they may not (name others)."""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.test_group_space are test parameters)

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from courses.facilitators import add_facilitator
from courses.models import Post, Run
from mail.sender import send_all
from server.floor.db import session_scope
from tests.support.smtp import SmtpSink
from tests.web.test_group_space import copies, csrf, held_mail, post_by_link, sign_in, sink, world  # noqa: F401


def name_facilitator(run_handle: str, who: str) -> None:
    with session_scope() as session:
        add_facilitator(session, session.scalars(select(Run).where(Run.handle == run_handle)).one(), who)


def test_a_facilitator_releases_held_mail_announces_and_removes_posts(
    client: TestClient, world: dict[str, str], people: dict[str, str], sink: SmtpSink
) -> None:
    held = held_mail(world["group"], "guest@example.net", "Held until released")
    off_topic = post_by_link(client, world["ann"], "Buy my course!")
    page = f"/groups/{world['group']}"
    sign_in(client, people["learner"])  # lena: neither member nor moderator yet
    refused = client.post(f"{page}/posts", data={"csrf_token": csrf(client, page), "text": "Hello all"})
    assert refused.status_code == 403 and "Announce to the group" not in client.get(page).text
    name_facilitator(world["run"], people["learner"])
    shown = client.get(page).text
    assert "Announce to the group" in shown and "Held until released" in shown
    released = client.post(
        f"{page}/posts/{held}/approve", data={"csrf_token": csrf(client, page)}, follow_redirects=False
    )
    assert released.status_code == 303
    removed = client.post(
        f"{page}/posts/{off_topic}/delete", data={"csrf_token": csrf(client, page)}, follow_redirects=False
    )
    assert removed.status_code == 303
    announced = client.post(
        f"{page}/posts",
        data={"csrf_token": csrf(client, page), "subject": "Week 2", "text": "The call moves to Thursday."},
        follow_redirects=False,
    )
    assert announced.status_code == 303
    with session_scope() as session:
        post = session.scalars(select(Post).where(Post.text == "The call moves to Thursday.")).one()
        assert post.subject == "Announcement: Week 2" and post.author_name.endswith("(moderator)")
        assert session.get(Post, off_topic).deleted  # type: ignore[union-attr]
        assert len(copies(session, post.id)) == 1  # fay, on the fediverse
        send_all(session)
    got = sorted(m.recipients[0] for m in sink.received if b"The call moves to Thursday." in m.data)
    assert got == ["ann@example.org", "bob@example.org", "cy@example.org"]
    assert sorted(m.recipients[0] for m in sink.received if b"Held until released" in m.data) == got
    # A facilitator still may not name other facilitators.
    other = client.post(
        f"/organize/runs/{world['run']}/facilitators", data={"csrf_token": csrf(client, page), "who": "ada@example.org"}
    )
    assert other.status_code == 403
