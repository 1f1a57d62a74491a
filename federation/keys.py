"""RSA-2048 keys of local actors: created lazily in the database, rotated with an `Update`.

Every local actor (the instance, each person, course, run and study group) signs with its own key,
`{actor}#main-key`. `serve` calls `ensure_instance_keys(session)` at start; the other keys are made
the first time they are needed (an actor document is served or an activity is signed).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from federation.models import ActorKey
from server.floor import urls
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.errors import Invalid

KEY_BITS = 2048


@dataclass(frozen=True)
class SigningKey:
    """What a signer needs: the key id to announce and the private key to sign with."""

    key_id: str
    private_pem: str

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        """The parsed private key (parsed once per process per key)."""
        return load_private_key(self.private_pem)


def key_id(actor: str) -> str:
    """The id of an actor's key, as Mastodon writes it."""
    return f"{actor}#main-key"


def generate_pem() -> tuple[str, str]:
    """A fresh RSA-2048 keypair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


@lru_cache(maxsize=4096)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Parse a private PEM (cached: parsing costs more than a signature)."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise Invalid("stored actor key is not an RSA key")
    return key


@lru_cache(maxsize=4096)
def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """Parse a public PEM; raise Invalid when it is not an RSA public key."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError as error:
        raise Invalid(f"publicKeyPem is not a PEM public key: {error}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise Invalid("publicKeyPem is not an RSA key")
    return key


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


def rotate(session: Session, actor: str) -> ActorKey:
    """Replace `actor`'s keypair and send an `Update` of its document to its followers.

    Peers that still hold the old key fail to verify our next request, refetch the actor (as they
    do on any failure) and find the new key; the Update tells them sooner.
    """
    from federation import actors, delivery

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
