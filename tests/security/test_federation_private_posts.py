"""Non-public posts are served only to the servers they were addressed to (or that host group members)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from courses.models import Enrollment, Post, StudyGroup
from federation.flows.posting import post_as
from federation.protocol.crypto import SigningKey
from federation.protocol.signatures import sign_request
from server.floor import urls
from server.floor.accounts import create_account
from server.floor.clock import now
from tests.federation.conftest import InstanceClient, Remote, client, remote
from tests.federation.flows_support import course_and_run

__all__ = ["client", "remote"]  # the fixtures, imported for pytest

AP = {"Accept": "application/activity+json"}


def _signed_get(client: InstanceClient, path: str, key: SigningKey) -> int:
    url = str(client.base_url).rstrip("/") + path
    return int(client.get(path, headers=AP | sign_request(key, "GET", url, AP, None, now())).status_code)


def test_federation_a_direct_post_is_not_served_to_any_signed_server(
    session: Session, remote: Remote, client: InstanceClient
) -> None:
    create_account(session, "bea@example.org", handle="bea")
    dan = "https://b.example/users/dan"
    remote.actor(dan)
    direct = post_as(session, "bea", [dan], "Just between us, Dan.")
    path = f"/posts/{direct.id}"
    stranger = remote.actor("https://evil.example/users/snoop")
    assert _signed_get(client, path, stranger) == 404  # was 200: any valid signature read it
    same_server = remote.actor("https://b.example/users/eve")  # Dan's server may: it got the post
    assert _signed_get(client, path, same_server) == 200
    assert client.get(path, headers=AP).status_code == 401


def test_federation_a_group_post_is_served_only_to_servers_hosting_members(
    session: Session, remote: Remote, client: InstanceClient
) -> None:
    _course, run = course_and_run(session)
    group = StudyGroup(run_id=run.id, number=1, handle="gentle-python-g1", name="Group 1")
    session.add(group)
    session.flush()
    member = "https://member.example/users/mo"
    session.add(Enrollment(run_id=run.id, group_id=group.id, actor=member, name="Mo", token="t1", status="confirmed"))
    post = Post(kind="group", source="email", group_id=group.id, run_id=run.id, author_actor=urls.run(run.handle),
                html="<p>Hello group</p>")  # fmt: skip
    session.add(post)
    session.flush()
    post.ap_id = urls.post(post.id)
    path = f"/posts/{post.id}"
    assert _signed_get(client, path, remote.actor("https://evil.example/users/snoop")) == 404
    assert _signed_get(client, path, remote.actor("https://member.example/users/other")) == 200
