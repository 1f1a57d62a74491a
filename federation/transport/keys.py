"""RSA-2048 keys of local actors, created lazily in the database (rotation: `federation.entry.objects.rotation`).

Every local actor (the instance, each person, course, run and study group) signs with its own key,
`{actor}#main-key`. `serve` calls `ensure_instance_keys(session)` at start; the other keys are made
the first time they are needed (an actor document is served or an activity is signed).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from federation.models import ActorKey
from federation.protocol.crypto import SigningKey, generate_pem, key_id
from server.floor import urls
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.errors import Invalid


def is_local(actor: str) -> bool:
    """True when `actor` is an id on this instance."""
    base = get_settings().url
    return actor == base or actor.startswith(base + "/")


def actor_key(session: Session, actor: str) -> ActorKey:
    """The key row of local `actor`, created on first use (safe against a concurrent creator)."""
    row = session.scalar(select(ActorKey).where(ActorKey.actor == actor))
    if row is not None:
        return row
    if not is_local(actor):
        raise Invalid(f"actor {actor} is not local to {get_settings().url}; no key can be made for it")
    private, public = generate_pem()
    try:
        with session.begin_nested():
            row = ActorKey(actor=actor, private_pem=private, public_pem=public, created_at=now())
            session.add(row)
    except IntegrityError:
        # Another process made it first; theirs wins.
        row = session.scalar(select(ActorKey).where(ActorKey.actor == actor))
        assert row is not None
    return row


def signing_key(session: Session, actor: str) -> SigningKey:
    """The key `actor` signs its requests with."""
    row = actor_key(session, actor)
    return SigningKey(key_id=key_id(actor), private_pem=row.private_pem)


def public_key_document(session: Session, actor: str) -> dict[str, str]:
    """The `publicKey` property of a local actor's document."""
    return {"id": key_id(actor), "owner": actor, "publicKeyPem": actor_key(session, actor).public_pem}


def ensure_instance_keys(session: Session) -> ActorKey:
    """Create the instance actor's key if missing (called by `serve` at start) and commit."""
    row = actor_key(session, urls.instance_actor())
    session.commit()
    return row


def instance_signing_key(session: Session) -> SigningKey:
    """The instance actor's key, which signs fetches made on behalf of no one in particular."""
    return signing_key(session, urls.instance_actor())
