"""The inbox's network step: fetch what an activity's handlers need before their write transaction.

`gather` asks the `@needs` functions of the activity's type (`federation.entry.handlers`) what remote
documents the handlers will read, ends the session's transaction, and fetches them with none open;
`handed_in`, inside the worker's write transaction, stores the fetched actors in the cache and
gives the handlers the rest. A slow or dead server then delays only its own activity, never the
instance's other writes (SQLite has one write lock; the fetch deadline bounds the wait).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from federation.entry.handlers import Inbound, Needs, needs_of
from federation.models import RemoteActor
from federation.transport import fetch
from federation.transport.keys import instance_signing_key


@dataclass(frozen=True)
class Fetched:
    """Documents fetched for one activity, by URL (or the error text of each fetch)."""

    actors: dict[str, dict[str, Any] | str] = field(default_factory=dict)
    documents: dict[str, dict[str, Any] | str] = field(default_factory=dict)


def gather(inbound: Inbound, extra: Needs | None = None) -> Fetched:
    """Fetch what the activity's handlers need (and `extra`); the session's transaction is ended before any request.

    Actors fresh in the cache are not fetched again (unless a handler needs them refreshed).
    """
    session = inbound.session
    needs = needs_of(inbound) | (extra or Needs())
    wanted = set(needs.refreshed)
    if needs.actors - wanted:
        cached = session.scalars(select(RemoteActor).where(RemoteActor.ap_id.in_(needs.actors - wanted)))
        fresh = {row.ap_id for row in cached if fetch.is_fresh(row)}
        wanted |= needs.actors - fresh
    if not wanted and not needs.documents:
        return Fetched()
    key = instance_signing_key(session)  # may create the key: committed below, before any request
    session.commit()  # no transaction (above all no write lock) while we wait on other servers
    return Fetched(fetch.fetch_each(sorted(wanted), key), fetch.fetch_each(sorted(needs.documents), key))


def handed_in(inbound: Inbound, fetched: Fetched) -> Inbound:
    """The inbound with its fetched documents, the fetched actors stored in the cache (no network)."""
    outcomes: dict[str, dict[str, Any] | str] = dict(fetched.documents)
    for url, document in fetched.actors.items():
        if isinstance(document, str):
            outcomes[url] = document
            continue
        try:
            outcomes[url] = fetch.store_actor(inbound.session, document, url).document
        except fetch.FetchError as error:  # fetched, but not an actor of that origin
            outcomes[url] = str(error)
    return dataclasses.replace(inbound, fetched=outcomes)
