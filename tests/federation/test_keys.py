"""Actor keys: made lazily once per actor, stored, rotated with an Update to followers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from federation.flows import rotation
from federation.models import ActorKey
from federation.protocol.crypto import load_private_key
from federation.transport import keys
from server.floor import urls
from server.floor.errors import Invalid
from server.floor.settings import Settings


def test_instance_key_is_made_once_and_kept(session: Session, settings: Settings) -> None:
    first = keys.ensure_instance_keys(session)
    again = keys.ensure_instance_keys(session)
    assert first.id == again.id
    assert first.actor == urls.instance_actor()
    assert "BEGIN PUBLIC KEY" in first.public_pem
    assert load_private_key(first.private_pem).key_size == 2048
    assert session.scalar(select(func.count()).select_from(ActorKey)) == 1


def test_local_actor_keys_are_lazy_and_distinct(session: Session, settings: Settings) -> None:
    course = keys.signing_key(session, urls.course("gentle-python"))
    person = keys.signing_key(session, urls.person("ada"))
    assert course.key_id == urls.course("gentle-python") + "#main-key"
    assert course.private_pem != person.private_pem
    doc = keys.public_key_document(session, urls.person("ada"))
    assert doc["owner"] == urls.person("ada") and doc["id"].endswith("#main-key")


def test_no_key_is_made_for_a_remote_actor(session: Session, settings: Settings) -> None:
    with pytest.raises(Invalid, match="not local"):
        keys.actor_key(session, "https://mastodon.example/users/alice")


def test_rotation_sends_an_update_with_the_new_key_to_followers(session: Session, settings: Settings) -> None:
    import json

    from federation.models import Delivery, Follower
    from server.floor.accounts import create_account

    create_account(session, "ada@example.org", handle="ada")
    ada = urls.person("ada")
    old = keys.actor_key(session, ada).public_pem
    session.add(Follower(actor=ada, follower="https://b.example/users/bo", inbox="https://b.example/users/bo/inbox"))
    session.flush()
    row = rotation.rotate(session, ada)
    assert row.public_pem != old and row.rotated_at is not None
    update = json.loads(session.scalar(select(Delivery.body)))
    assert update["type"] == "Update" and update["object"]["id"] == ada
    assert update["object"]["publicKey"]["publicKeyPem"] == row.public_pem
