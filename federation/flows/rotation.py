"""Key rotation: a local actor gets a new keypair and tells its followers with an `Update`."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from federation.flows import actors
from federation.models import ActorKey
from federation.protocol.crypto import generate_pem
from federation.transport import delivery
from federation.transport.keys import actor_key
from server.floor.clock import now


def rotate(session: Session, actor: str) -> ActorKey:
    """Replace `actor`'s keypair and send an `Update` of its document to its followers.

    Peers that still hold the old key fail to verify our next request, refetch the actor (as they
    do on any failure) and find the new key; the Update tells them sooner.
    """
    row = actor_key(session, actor)
    row.private_pem, row.public_pem = generate_pem()
    row.rotated_at = now()
    session.flush()
    document = actors.actor_document(session, actor)
    if document is None:
        return row
    update = {
        "@context": document.get("@context", actors.CONTEXT),
        "id": f"{actor}#updates/key-{secrets.token_hex(8)}",
        "type": "Update",
        "actor": actor,
        "object": document,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [document.get("followers", f"{actor}/followers")],
    }
    delivery.enqueue(session, update, sender=actor, recipients=[f"{actor}/followers"])
    return row
