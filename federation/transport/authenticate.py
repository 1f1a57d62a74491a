"""Verifying who signed an incoming request: find the key (cached, fetched, refetched once), check it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ScalarSelect, String, bindparam, select
from sqlalchemy.orm import Session

from federation.models import ActorKey, RemoteActor
from federation.protocol.signatures import (
    ParsedSignature,
    ReceivedRequest,
    SignatureError,
    check_policy,
    parse_signature,
    verify_signature,
)
from federation.transport.fetch import FetchError, key_owner_document, same_origin, store_actor
from federation.transport.keys import instance_signing_key, is_local
from server.floor.clock import now


@dataclass(frozen=True)
class Signer:
    """Who signed a request: the actor owning the key, the key id, and the signature scheme."""

    actor: str
    key_id: str
    scheme: str


def _local_signer(session: Session, key_id: str) -> tuple[str, str] | None:
    actor = key_id.split("#", 1)[0]
    row = session.scalar(select(ActorKey).where(ActorKey.actor == actor))
    return (actor, row.public_pem) if row else None


def _verifies(parsed: ParsedSignature, owner: str, pem: str | None) -> bool:
    """The key belongs to its owner's origin and the signature verifies with it.

    A cached owner on another origin is a claim we should not have kept: not an answer, so the
    caller refetches the key's real owner (raising here made that owner's signatures fail forever).
    """
    if not same_origin(owner, parsed.key_id):
        return False
    return bool(pem) and verify_signature(parsed, pem or "")


def cached_key() -> tuple[ScalarSelect[str], ScalarSelect[str | None]]:
    """Subqueries for the owner and the PEM of the cached remote key `:key_id`, to read with other checks."""
    # Both ordered by id so that, should two cached actors claim one key id, they name the same row.
    key_id = bindparam("key_id", type_=String)
    owner = select(RemoteActor.ap_id).where(RemoteActor.key_id == key_id).order_by(RemoteActor.id).limit(1)
    pem = select(RemoteActor.public_key_pem).where(RemoteActor.key_id == key_id).order_by(RemoteActor.id).limit(1)
    return owner.scalar_subquery(), pem.scalar_subquery()


def verified_by_cached(parsed: ParsedSignature, owner: str | None, pem: str | None) -> Signer | None:
    """The signer when `parsed` verifies with a cached remote key; None when `authenticate` must decide.

    `parsed` must have passed `check_policy`. A key of another origin than its owner gives None.
    """
    if owner is None or not pem or is_local(parsed.key_id):
        return None
    return Signer(actor=owner, key_id=parsed.key_id, scheme=parsed.scheme) if _verifies(parsed, owner, pem) else None


def authenticate(session: Session, request: ReceivedRequest) -> Signer:
    """The verified signer of `request`; SignatureError (answer 401) when it cannot be trusted.

    Call it before writing anything in `session`: it commits before fetching a key.
    """
    parsed = parse_signature(request)
    check_policy(request, parsed, now())
    if is_local(parsed.key_id):
        local = _local_signer(session, parsed.key_id)
        if local is None or not verify_signature(parsed, local[1]):
            raise SignatureError(f"signature by local key {parsed.key_id} does not verify")
        return Signer(actor=local[0], key_id=parsed.key_id, scheme=parsed.scheme)
    cached = session.scalar(select(RemoteActor).where(RemoteActor.key_id == parsed.key_id))
    if cached is not None and _verifies(parsed, cached.ap_id, cached.public_key_pem):
        return Signer(actor=cached.ap_id, key_id=parsed.key_id, scheme=parsed.scheme)
    # Unknown, or a cached key that fails (rotated?): fetch once. The database is let go during
    # the fetch (nothing was written yet) so SQLite's writer lock is not held across the network.
    instance_key = instance_signing_key(session)
    session.commit()
    try:
        document, url, confirmed = key_owner_document(parsed.key_id, instance_key)
        actor = store_actor(session, document, url, confirmed)
    except FetchError as error:
        raise SignatureError(f"cannot fetch key {parsed.key_id}: {error}") from None
    if _verifies(parsed, actor.ap_id, actor.public_key_pem):
        return Signer(actor=actor.ap_id, key_id=parsed.key_id, scheme=parsed.scheme)
    # Both the cached and a freshly fetched key failed: a forgery, or a body changed in transit.
    raise SignatureError(f"signature by {parsed.key_id} does not verify")
