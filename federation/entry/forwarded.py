"""Forwarded activities: signed by a server other than their actor's, checked at the object's origin.

Mastodon forwards a reply to the followers of the status it answers, and a Delete to those who
saw the status (`ActivityPub::Activity::Create#forward_for_reply`, `Delete#forward!`), signed by
its own actor with the original's JSON unchanged. The HTTP signature then proves only who
forwarded it. Answering 401 makes the forwarder retry for days (a 401 is not final in Mastodon's
`ActivityPub::DeliveryWorker`), so the inbox takes it (202, `InboxActivity.forwarded_by`) and
nothing is believed until the object is fetched from its own origin, by its id, signed, with no
transaction open (`forward_needs`, fetched by `federation.entry.prefetch`):
- `Create` / `Update`: the fetched object replaces the embedded one; it must carry the same id, on
  the actor's origin, and be attributed to the actor.
- `Delete`: the object's origin must answer 404 or 410, or a `Tombstone`.
- anything else cannot be checked this way and is recorded as ignored.
A network failure or a 5xx leaves the activity to be tried again later (`NotFetched`).
"""

from __future__ import annotations

import dataclasses

from federation.entry.handlers import Inbound, Needs, NotFetched, activity_type, object_id
from federation.transport.fetch import same_origin

CHECKED = frozenset({"Create", "Update", "Delete"})
_GONE = ("answered HTTP 404", "answered HTTP 410")


def _target(inbound: Inbound) -> str | None:
    """The object id to fetch: only one on the origin of the activity's actor."""
    target = inbound.object_id
    if inbound.type not in CHECKED or not target or not same_origin(target, inbound.actor):
        return None
    return target


def forward_needs(inbound: Inbound) -> Needs:
    """What checking a forwarded activity needs fetched: its object, from its origin."""
    target = _target(inbound)
    return Needs(documents=frozenset({target})) if target else Needs()


def verified(inbound: Inbound, forwarder: str) -> Inbound | str:
    """The inbound with its object as its origin serves it, or why it is ignored (a str)."""
    target = _target(inbound)
    if target is None:
        return f"ignored: {inbound.type or 'activity'} of {inbound.actor} forwarded by {forwarder} cannot be checked at its origin"
    found = inbound.fetched_document(target)
    if inbound.type == "Delete":
        if isinstance(found, str) and found.endswith(_GONE):
            return inbound
        if isinstance(found, dict) and activity_type(found) == "Tombstone":
            return inbound
        if isinstance(found, str):
            raise NotFetched(f"forwarded Delete of {target}: {found}")
        return f"ignored: forwarded Delete of {target}, which its origin still serves"
    if isinstance(found, str):
        if found.endswith(_GONE):
            return f"ignored: forwarded {inbound.type} of {target}, which its origin does not serve"
        raise NotFetched(f"forwarded {inbound.type} of {target}: {found}")
    if found.get("id") != target or object_id(found.get("attributedTo")) != inbound.actor:
        return f"ignored: forwarded {inbound.type} of {target}: its origin serves another object or author"
    activity = {**inbound.activity, "object": found}
    return dataclasses.replace(inbound, activity=activity)
