"""An actor cannot claim another actor's key id: that actor's own signed activities still verify."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation.models import InboxActivity, RemoteActor
from server.floor import urls
from server.floor.accounts import create_account
from tests.federation.conftest import InstanceClient, Remote, client, remote, signed_post

__all__ = ["client", "remote"]  # the fixtures, imported for pytest


def _follow(actor: str, number: int) -> dict[str, str]:
    return {"id": f"{actor}/follows/{number}", "type": "Follow", "actor": actor, "object": urls.person("bea")}


def test_federation_a_claimed_key_id_does_not_lock_out_its_owner(
    session: Session, remote: Remote, client: InstanceClient
) -> None:
    create_account(session, "bea@example.org", handle="bea")
    victim = "https://good.example/users/vic"
    victim_key = remote.actor(victim)
    for mallory in ("https://evil.example/users/mallory", "https://good.example/users/mallory"):
        # Mallory's document claims Vic's key id (another origin, then the same origin).
        mallory_key = remote.actor(mallory)
        remote.documents[mallory]["publicKey"]["id"] = f"{victim}#main-key"
        response = signed_post(client, "/inbox", _follow(mallory, 1), mallory_key)
        # Mallory signed with her key id, so she is cached; her claim on Vic's key id is not kept.
        assert response.status_code in (202, 401), response.text
        session.expire_all()
        claimed = session.scalar(select(RemoteActor).where(RemoteActor.ap_id == mallory))
        assert claimed is None or claimed.key_id != f"{victim}#main-key"
    # Vic's genuine activities verify, now and every time after.
    for number in (1, 2):
        response = signed_post(client, "/inbox", _follow(victim, number), victim_key)
        assert response.status_code == 202, response.text
    assert session.scalar(select(InboxActivity.activity_id).where(InboxActivity.actor == victim).limit(1))


def test_federation_a_poisoned_cache_row_is_refetched_not_a_401_forever(
    session: Session, remote: Remote, client: InstanceClient
) -> None:
    """A claim cached before the check (or by a race) costs one refetch, not the owner's signatures."""
    create_account(session, "bea@example.org", handle="bea")
    victim = "https://good.example/users/vic"
    victim_key = remote.actor(victim)
    mallory = "https://evil.example/users/mallory"
    remote.actor(mallory)
    session.add(RemoteActor(ap_id=mallory, inbox=f"{mallory}/inbox", document={}, key_id=f"{victim}#main-key",
                            public_key_pem=remote.documents[mallory]["publicKey"]["publicKeyPem"]))  # fmt: skip
    session.flush()
    for number in (1, 2):
        response = signed_post(client, "/inbox", _follow(victim, number), victim_key)
        assert response.status_code == 202, response.text
    session.expire_all()
    assert session.scalar(select(RemoteActor.key_id).where(RemoteActor.ap_id == mallory)) is None
