"""Sending one batch of delivery POSTs: signed ahead in threads, at most PER_HOST at once per host.

`send_all` takes `Outgoing` records — plain values copied from the claimed rows, so the event loop
never touches an ORM object while the delivery job's database thread works on the session
(`federation.transport.delivery` overlaps the two) — and returns one `Attempt` per record, in order.
"""

from __future__ import annotations

import asyncio

from federation.protocol.crypto import SigningKey
from federation.transport.fetch import USER_AGENT
from federation.transport.guard import Refused
from federation.transport.outcomes import Attempt, retry_after
from federation.transport.poster import Poster, PostError
from federation.transport.presign import Outgoing, Signed, sign_ahead
from server.floor.clock import now
from server.floor.config import get_settings

__all__ = ["CONCURRENCY", "PER_HOST", "Outgoing", "headers", "new_poster", "send_all", "start_signing"]

CONTENT_TYPE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
PER_HOST = 4
CONCURRENCY = 64
CONNECT_TIMEOUT = 5.0


def headers() -> dict[str, str]:
    """The headers every delivery POST carries besides the signed ones."""
    return {
        "Content-Type": CONTENT_TYPE,
        "Accept": "application/activity+json",
        "User-Agent": USER_AGENT.format(url=get_settings().url),
    }


def new_poster() -> Poster:
    """The delivery client: its every connection passes the SSRF guard."""
    return Poster(allow_private=get_settings().insecure_http, connect_timeout=CONNECT_TIMEOUT)


async def _post(
    poster: Poster,
    limit: asyncio.Semaphore,
    post: Outgoing,
    signing: asyncio.Future[Signed],
    common: dict[str, str],
    deadline: float,
) -> Attempt:
    async with limit:
        try:
            # The whole POST, answer included, within the deadline: per-read timeouts alone let a
            # server that drips a byte every few seconds hold a worker (and its host's slot) for ever.
            async with asyncio.timeout(deadline):
                signed = (await signing)[post.id]
                answer = await poster.post(post.inbox, common | signed, post.body)
        except Refused as error:
            return Attempt(post.id, 0, str(error))
        except PostError as error:
            return Attempt(post.id, None, str(error))
        except TimeoutError:
            return Attempt(post.id, None, f"no complete answer within {deadline:g} s")
        if answer.retry_after is None:
            return Attempt(post.id, answer.status)
        return Attempt(post.id, answer.status, "", retry_after(answer.retry_after, now()))


def start_signing(posts: list[Outgoing], keys: dict[str, SigningKey]) -> dict[int, asyncio.Future[Signed]]:
    """Start signing `posts` in the signer threads (`presign.sign_ahead`); call it in the sending loop."""
    return sign_ahead(posts, keys, headers())


async def send_all(
    posts: list[Outgoing],
    keys: dict[str, SigningKey],
    poster: Poster | None = None,
    signing: dict[int, asyncio.Future[Signed]] | None = None,
) -> list[Attempt]:
    """POST every record concurrently, at most PER_HOST at once per host and CONCURRENCY in all.

    `poster` keeps its connections for the next call (within the same event loop); without one, a
    client for this call alone is made and closed. `signing`, from `start_signing`, is the
    signatures begun earlier (the job signs the next batch while this one is sent)."""
    per_host: dict[str, asyncio.Semaphore] = {}
    client = poster or new_poster()
    common = headers()
    deadline = get_settings().fetch_deadline
    if signing is None:
        signing = sign_ahead(posts, keys, common)  # in threads, while the first POSTs go out
    waiting = iter(posts)  # shared: each record is taken by one sender, in the batch's order
    attempts: dict[int, Attempt] = {}

    async def sender() -> None:
        # CONCURRENCY senders, not a task per row: at most CONCURRENCY POSTs at once (a sender
        # waiting for its row's host holds its place, as a task holding a semaphore did).
        for post in waiting:
            limit = per_host.get(post.host)
            if limit is None:
                limit = per_host[post.host] = asyncio.Semaphore(PER_HOST)
            attempts[post.id] = await _post(client, limit, post, signing[post.id], common, deadline)

    try:
        await asyncio.gather(*(sender() for _ in range(min(CONCURRENCY, len(posts)))))
        return [attempts[post.id] for post in posts]
    finally:
        if poster is None:
            client.close()
