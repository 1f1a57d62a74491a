"""How often the public signup form may be used: per client network, per address and per run.

Anyone may post the form (or the JSON API), and each signup queues a mail or a fediverse post, so
a script could send hundreds of mails through us. The counts live in the database
(`server.floor.ratelimit`), shared by every web process. Keys are hashed: the table keeps no
address of anyone, only that something was counted.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass

from sqlalchemy.orm import Session

from server.floor.errors import RateLimited
from server.floor.ratelimit import hit


@dataclass(frozen=True)
class SignupLimit:
    """At most `limit` signup attempts for one key of `scope` within `window_seconds`."""

    scope: str
    limit: int
    window_seconds: int
    reason: str


# A class behind one school router may sign up together; a script may not sign up a crowd.
PER_CLIENT = SignupLimit("signup-client", 20, 3600, "There were many signups from your network")
# One address (or fediverse handle) typed again and again, from anywhere: someone's mailbox flooded.
PER_ADDRESS = SignupLimit("signup-address", 5, 3600, "That address was signed up several times already")
# Many clients at once (a botnet): the run's signups, and the mails they queue, stay bounded.
PER_RUN = SignupLimit("signup-run", 500, 3600, "This run is getting very many signups right now")


def client_network(host: str) -> str:
    """The key of a client address: itself for IPv4, its /64 for IPv6 (one subscriber holds a whole /64)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _hashed(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()


def count_signup(session: Session, client: str, address: str, run_handle: str) -> None:
    """Count one signup attempt from `client` for `address` (email or handle) in run `run_handle`;
    RateLimited, saying why and when to try again, when one of the limits is reached."""
    checks = [(PER_CLIENT, client_network(client))]
    if address:
        checks.append((PER_ADDRESS, address.strip().lower()))
    checks.append((PER_RUN, run_handle))
    for limit, key in checks:
        wait = hit(session, limit.scope, _hashed(limit.scope, key), limit.limit, limit.window_seconds)
        if wait is not None:
            seconds = math.ceil(wait)
            minutes = max(1, math.ceil(seconds / 60))
            raise RateLimited(f"{limit.reason}: please try again in {minutes} minutes.", retry_after=seconds)
