"""Verifying who signed an incoming request: find the key (cached, fetched, refetched once), check it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation.fetch import FetchError, actor_for_key, same_origin
from federation.keys import is_local
from federation.models import ActorKey, RemoteActor
from federation.signatures import (
    ReceivedRequest,
    SignatureError,
    check_policy,
    parse_signature,
    verify_signature,
)
from server.clock import now


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


def authenticate(session: Session, request: ReceivedRequest) -> Signer:
    """The verified signer of `request`; SignatureError (answer 401) when it cannot be trusted."""
    parsed = parse_signature(request)
    check_policy(request, parsed, now())
    if is_local(parsed.key_id):
        local = _local_signer(session, parsed.key_id)
        if local is None or not verify_signature(parsed, local[1]):
            raise SignatureError(f"signature by local key {parsed.key_id} does not verify")
        return Signer(actor=local[0], key_id=parsed.key_id, scheme=parsed.scheme)
    cached = session.scalar(select(RemoteActor).where(RemoteActor.key_id == parsed.key_id))
    # A cached key that fails may have been rotated: fetch once more. A fresh fetch is final.
    for refresh in (False, True) if cached is not None else (True,):
        try:
            actor = (
                cached if not refresh and cached is not None else actor_for_key(session, parsed.key_id, refresh=True)
            )
        except FetchError as error:
            raise SignatureError(f"cannot fetch key {parsed.key_id}: {error}") from None
        if not same_origin(actor.ap_id, parsed.key_id):
            raise SignatureError(f"key {parsed.key_id} belongs to {actor.ap_id}, another origin")
        if actor.public_key_pem and verify_signature(parsed, actor.public_key_pem):
            return Signer(actor=actor.ap_id, key_id=parsed.key_id, scheme=parsed.scheme)
    # Both the cached and a freshly fetched key failed: a forgery, or a body changed in transit.
    raise SignatureError(f"signature by {parsed.key_id} does not verify")
