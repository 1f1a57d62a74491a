"""Posts reaching local people from elsewhere: units and group posts, and boosts checked at their source."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Post
from server.floor import urls
from server.floor.accounts import create_account
from tests.federation.conftest import Remote
from tests.federation.flows_support import receive


def test_a_group_boost_keeps_the_post_fetched_from_its_author_not_the_embedded_copy(
    session: Session, remote: Remote
) -> None:
    create_account(session, "bea@example.org", handle="bea")
    bea = urls.person("bea")
    group = "https://a.example/groups/gp-g1"
    dan = "https://b.example/users/dan"
    remote.actor(dan)
    note_id = f"{dan}/statuses/1"
    remote.documents[note_id] = {"id": note_id, "type": "Note", "attributedTo": dan, "content": "<p>The real words</p>"}
    forged_copy = {"id": note_id, "type": "Note", "attributedTo": dan, "content": "<p>Words put in Dan's mouth</p>"}
    announce = {"id": "an1", "type": "Announce", "actor": group, "to": [bea],
                "object": {"id": f"{note_id}/activity", "type": "Create", "actor": dan, "object": forged_copy}}  # fmt: skip
    outcome = receive(session, announce)
    assert outcome.startswith("boosted post ") and outcome.endswith(" kept"), outcome
    post = session.scalar(select(Post).where(Post.ap_id == note_id))
    assert post is not None and post.author_actor == dan and post.html == "<p>The real words</p>"
    assert receive(session, {**announce, "id": "an2", "object": note_id}) == "boosted post already kept"
    nobody_here = {**announce, "id": "an3", "to": ["https://c.example/users/x"]}
    assert receive(session, nobody_here).startswith("ignored")


def test_a_boost_of_a_post_by_someone_of_another_server_is_not_kept(session: Session, remote: Remote) -> None:
    create_account(session, "bea@example.org", handle="bea")
    note_id = "https://b.example/users/dan/statuses/2"
    remote.documents[note_id] = {"id": note_id, "type": "Note", "attributedTo": "https://evil.example/users/x"}
    outcome = receive(
        session,
        {
            "id": "an4",
            "type": "Announce",
            "actor": "https://a.example/groups/g",
            "to": [urls.person("bea")],
            "object": note_id,
        },
    )
    assert "not kept" in outcome and session.scalar(select(Post.id)) is None


def test_a_local_persons_post_names_each_mention_user_at_host(session: Session) -> None:
    # GoToSocial reads a Mention's name as the @user@host namestring (internal/ap/extract.go, ExtractMention);
    # a bare href without it was the shape before issue 13.
    from federation.flows.posting import post_as
    from tests.federation.flows_support import deliveries, remote_person

    create_account(session, "bea@example.org", handle="bea")
    dan = remote_person(session, "dan").ap_id
    group = "https://a.example/groups/gp-g1"
    post_as(session, "bea", [dan, group], "Hello both")
    ((_row, create),) = deliveries(session, "Create")[:1]
    assert create["object"]["tag"] == [
        {"type": "Mention", "href": dan, "name": "@dan@social.example"},
        {"type": "Mention", "href": group, "name": "@gp-g1@a.example"},
    ]
