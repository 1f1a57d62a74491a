"""Update of an actor: refresh our cached copy (new name, inbox or rotated key)."""

from __future__ import annotations

from federation.entry.handlers import Inbound, handles
from federation.transport.fetch import FetchError, store_actor


@handles("Update")
def update_actor(inbound: Inbound) -> str | None:
    """An actor updating itself: store the embedded document (same id, so same origin)."""
    document = inbound.object
    if not isinstance(document, dict) or document.get("id") != inbound.actor or "inbox" not in document:
        return None
    try:
        store_actor(inbound.session, document, inbound.actor)
    except FetchError as error:
        return f"actor update not stored: {error}"
    return f"refreshed {inbound.actor}"
