"""Remote accounts the API names by handle (`@user@host` in a status, `search?resolve=true`, a
follow of someone not known here yet): looked up by federation (WebFinger, then the actor) BEFORE
the write transaction opens, as the house rules ask, and handed to the community services.

Federation's person lookup (`federation.flows.people.resolve`) is used when it is installed; until
then only accounts already known here are found.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from community import people
from community.models import Profile
from community.text import render
from server.floor.config import get_settings
from server.floor.db import session_scope

MAX_LOOKUPS = 10
log = logging.getLogger("mechmooc.api")


def _resolver() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("federation.flows.people")
    except ImportError:
        return None
    found = getattr(module, "resolve", None)
    return found if callable(found) else None


def resolve(acct_or_url: str) -> Profile | None:
    """The profile of `user@host` or an actor URL: known here, else fetched (None when not found)."""
    value = acct_or_url.strip().lstrip("@")
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        with session_scope() as db:
            known = people.find_by_acct(db, value)
            if known is not None:
                return known
        if "@" not in value:
            return None
    lookup = _resolver()
    if lookup is None:
        return None
    try:
        found = lookup(value)
    except Exception as problem:  # noqa: BLE001 - a remote server's failure is a "not found" here
        log.info("api: could not resolve %s: %s", value[:200], problem)
        return None
    if isinstance(found, int):
        with session_scope() as db:
            return db.get(Profile, found)
    return found if isinstance(found, Profile) else None


def resolve_mentions(text: str) -> dict[str, Profile]:
    """The remote @mentions of `text` that could be resolved (at most MAX_LOOKUPS), by acct."""
    host = get_settings().host.lower()
    accts = [a for a in render(text).mentions if "@" in a and a.rsplit("@", 1)[1].lower() != host]
    found: dict[str, Profile] = {}
    for acct in accts[:MAX_LOOKUPS]:
        profile = resolve(acct)
        if profile is not None:
            found[acct] = profile
    return found
