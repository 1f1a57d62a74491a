"""The inbox handler registry: `@handles("Follow")` functions, one module per activity type.

Every handler registered for an activity's type runs, in registration order, inside the worker's
transaction for that activity; a handler returns a short outcome text (kept on the InboxActivity
row) or None when the activity is not its business. An activity no handler wants is recorded as
"ignored" — unknown types are never an error.

The split: the protocol engineer's modules here are follow.py (Follow, Accept, Reject and their
Undo), undo.py (Undo of Like and Block), update.py (Update of actors), delete.py (Delete of actors
and posts), like.py, flag.py, block.py, move.py. The course-vocabulary engineer adds their own
modules for course objects (Create, Announce, Join, Leave, and course/run effects of Follow and
Undo); a handler checks the object and returns None when it is not about its kind of thing.

Handlers never touch the network: they run inside a write transaction, and on SQLite a fetch there
would hold the instance's one write lock as long as the remote server takes. A handler that needs
a remote document declares it with `@needs("Move")`: the worker fetches what those functions name
with no transaction open (`federation.entry.prefetch`), stores fetched actors in the cache, and
hands the other documents in as `Inbound.fetched`. A handler finding nothing there raises
`NotFetched`, and the activity is tried again later.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Inbound:
    """One received activity as a handler sees it: verified signer, addressed local actor."""

    session: Session
    activity: dict[str, Any]
    actor: str  # the verified signer, equal to the activity's actor
    recipient: str | None  # the local actor whose inbox got it; None for the shared inbox
    activity_id: str
    # What the `@needs` functions named, fetched before the transaction: URL -> document, or the
    # error text of its fetch. Fetched actors are in the cache as well (`fetch.cached_actor`).
    fetched: Mapping[str, dict[str, Any] | str] = field(default_factory=dict)

    @property
    def type(self) -> str:
        """The activity's type."""
        return activity_type(self.activity)

    @property
    def object(self) -> Any:
        """The activity's object (an id string, an embedded object, or None)."""
        return self.activity.get("object")

    @property
    def object_id(self) -> str | None:
        """The id of the activity's object, whether embedded or given by id."""
        return object_id(self.activity.get("object"))

    def fetched_document(self, url: str) -> dict[str, Any] | str:
        """The document fetched for `url` before the transaction, or its fetch's error text.

        NotFetched when nothing was fetched for it (a `@needs` function did not name it).
        """
        found = self.fetched.get(url)
        if found is None:
            raise NotFetched(f"{url} was not fetched before the transaction; tried again later")
        return found


class NotFetched(RuntimeError):
    """A handler needs a remote document that was not fetched before its transaction (the activity is retried)."""


@dataclass(frozen=True)
class Needs:
    """Remote documents an activity's handlers need, to be fetched before their transaction opens."""

    actors: frozenset[str] = frozenset()  # to have in the actor cache: fetched when missing or stale
    refreshed: frozenset[str] = frozenset()  # actors fetched again even when cached (a Move's target)
    documents: frozenset[str] = frozenset()  # anything else, handed to the handlers (`Inbound.fetched`)

    def __or__(self, other: Needs) -> Needs:
        return Needs(self.actors | other.actors, self.refreshed | other.refreshed, self.documents | other.documents)


Handler = Callable[[Inbound], str | None]
NeedsFunction = Callable[[Inbound], Needs]
_registry: dict[str, list[Handler]] = {}
_needs: dict[str, list[NeedsFunction]] = {}
_loaded: list[bool] = []


def activity_type(document: Any) -> str:
    """The type of an AS2 document (the first, when a list)."""
    if not isinstance(document, dict):
        return ""
    kind = document.get("type", "")
    if isinstance(kind, list):
        kind = kind[0] if kind else ""
    return str(kind)


def object_id(value: Any) -> str | None:
    """The id of an AS2 reference: the string itself, or the `id` of an embedded object."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return None


def changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE; how many rows it changed."""
    result = session.execute(statement)
    return result.rowcount if isinstance(result, CursorResult) else 0


def handles(*types: str) -> Callable[[Handler], Handler]:
    """Register the decorated function for activities of these types."""

    def register(function: Handler) -> Handler:
        for kind in types:
            if function not in _registry.setdefault(kind, []):
                _registry[kind].append(function)
        return function

    return register


def needs(*types: str) -> Callable[[NeedsFunction], NeedsFunction]:
    """Register the decorated function as naming what activities of these types need fetched.

    It may read the database (`inbound.session`) but must not write: its reads end before the fetch.
    """

    def register(function: NeedsFunction) -> NeedsFunction:
        for kind in types:
            if function not in _needs.setdefault(kind, []):
                _needs[kind].append(function)
        return function

    return register


def needs_of(inbound: Inbound) -> Needs:
    """Everything the handlers of the activity's type need fetched, together."""
    load()
    found = Needs()
    for function in _needs.get(inbound.type, []):
        found = found | function(inbound)
    return found


def load() -> None:
    """Import every module of this package so their handlers register (idempotent)."""
    if _loaded:
        return
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{module.name}")
    _loaded.append(True)


def handlers_for(kind: str) -> list[Handler]:
    """The handlers registered for activity type `kind`."""
    load()
    return list(_registry.get(kind, []))


def dispatch(inbound: Inbound) -> str:
    """Run every handler of the activity's type; the joined outcomes, or 'ignored'."""
    outcomes = [outcome for handler in handlers_for(inbound.type) if (outcome := handler(inbound))]
    return "; ".join(outcomes) if outcomes else f"ignored: nothing here handles {inbound.type or 'untyped'}"
