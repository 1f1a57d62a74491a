"""Remote objects cannot squat our ids, nor another server's: an object id must be on its actor's origin."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Post
from federation.models import InboxActivity
from server.floor import urls
from server.floor.accounts import create_account
from server.floor.settings import Settings
from tests.federation.conftest import InstanceClient, Remote, client, remote, signed_post

__all__ = ["client", "remote"]  # the fixtures, imported for pytest


def _create(actor: str, note_id: str, to: str) -> dict[str, object]:
    note = {"id": note_id, "type": "Note", "attributedTo": actor, "to": [to], "content": "<p>mine now</p>"}
    return {"id": f"{actor}/statuses/9/activity", "type": "Create", "actor": actor, "to": [to], "object": note}


def test_federation_a_remote_note_with_our_post_id_is_refused(
    settings: Settings, session: Session, remote: Remote, client: InstanceClient
) -> None:
    create_account(session, "bea@example.org", handle="bea")
    mallory = "https://evil.example/users/mallory"
    key = remote.actor(mallory)
    for squatted in (urls.post(1), "https://b.example/users/dan/statuses/1"):
        response = signed_post(client, "/inbox", _create(mallory, squatted, urls.person("bea")), key)
        assert response.status_code == 400, response.text
        assert squatted in response.json()["error"]
    client.process_inbox()
    assert session.scalar(select(InboxActivity.id)) is None
    assert session.scalar(select(Post.id)) is None
    # The actor's own ids are fine.
    own = _create(mallory, f"{mallory}/statuses/1", urls.person("bea"))
    assert signed_post(client, "/inbox", own, key).status_code == 202
    client.process_inbox()
    assert session.scalar(select(Post.ap_id)) == f"{mallory}/statuses/1"
