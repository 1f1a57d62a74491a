"""Remote fetch: signed GETs through the SSRF guard, with size limits, timeouts and few redirects.

`get_json` is the one way this instance reads another server. `fetch_actor` and `prefetch` keep the
cache of actor documents (`RemoteActor`) that delivery and signature verification use, turning
`@user@host` into an actor id by WebFinger; `cached_actor` reads that cache.

No function here that takes a session fetches while the caller may have written in it: network
I/O inside a write transaction would hold SQLite's one write lock (every write of the instance
waits) for as long as the slowest remote server takes. Callers fetch first (`fetch_actor`,
`prefetch`, `fetch_each`), then open their write transaction and read the cache.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import anyio
import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from federation.models import RemoteActor
from federation.protocol.crypto import SigningKey
from federation.transport.guard import AsyncGuardedTransport, Refused
from federation.transport.httpsig import HttpSignatureAuth
from federation.transport.keys import instance_signing_key
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, MechMoocError

AP_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
JRD_ACCEPT = "application/jrd+json, application/json"
MAX_BYTES = 1_000_000
MAX_REDIRECTS = 3
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
ACTOR_MAX_AGE = timedelta(days=1)
USER_AGENT = "MechanicalMOOC/0.1 (+{url})"
_HANDLE = re.compile(r"^@?(?:acct:)?([^@\s/]+)@([^@\s/]+)$")


class FetchError(MechMoocError):
    """A remote document could not be fetched or is not what was asked for (names the URL)."""


def client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """An httpx client whose every request passes the SSRF guard."""
    settings = get_settings()
    guard = AsyncGuardedTransport(allow_private=settings.insecure_http, inner=transport)
    return httpx.AsyncClient(
        transport=guard,
        timeout=TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT.format(url=settings.url)},
    )


def get_json(
    url: str,
    key: SigningKey,
    accept: str = AP_ACCEPT,
    max_bytes: int = MAX_BYTES,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """GET `url` signed by `key`, following at most MAX_REDIRECTS (each re-checked and re-signed).

    The whole exchange (every hop, headers and body) must end within MECHMOOC_FETCH_DEADLINE: the
    per-read timeouts alone let a server that sends a byte every few seconds hold us for ever.
    Call it from a thread without a running event loop (a worker thread, the CLI, a job).
    """
    deadline = get_settings().fetch_deadline

    async def within_deadline() -> dict[str, Any]:
        with anyio.fail_after(deadline):
            return await _get_json(url, key, accept, max_bytes, transport)

    try:
        return anyio.run(within_deadline)
    except TimeoutError:
        raise FetchError(f"{url} did not answer in full within {deadline:g} s; gave up") from None


async def _get_json(
    url: str, key: SigningKey, accept: str, max_bytes: int, transport: httpx.AsyncBaseTransport | None
) -> dict[str, Any]:
    target = url
    async with client(transport) as http:
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                request = http.build_request("GET", target, headers={"Accept": accept})
                response = await http.send(request, auth=HttpSignatureAuth(key), stream=True)
                try:
                    if response.is_redirect and "location" in response.headers:
                        target = urljoin(target, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"{target} answered HTTP {response.status_code}")
                    body = await _read_limited(response, max_bytes, target)
                finally:
                    await response.aclose()
            except Refused as error:
                raise FetchError(str(error)) from None
            except httpx.HTTPError as error:
                raise FetchError(f"{target}: {type(error).__name__}: {error}") from None
            try:
                document = json.loads(body)
            except ValueError:
                raise FetchError(f"{target} did not answer JSON") from None
            if not isinstance(document, dict):
                raise FetchError(f"{target} answered JSON that is not an object")
            return document
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


async def _read_limited(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{url} is larger than {max_bytes} bytes")
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"{url} is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def same_origin(a: str, b: str) -> bool:
    """True when both URLs have the same scheme and host[:port]."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc.lower()) == (pb.scheme, pb.netloc.lower())


def _public_key(document: dict[str, Any], key_id: str | None) -> dict[str, Any] | None:
    keys = document.get("publicKey")
    candidates = keys if isinstance(keys, list) else [keys]
    valid = [k for k in candidates if isinstance(k, dict) and isinstance(k.get("publicKeyPem"), str)]
    for candidate in valid:
        if key_id is None or candidate.get("id") == key_id:
            return candidate
    return valid[0] if valid else None


def owned_key(document: dict[str, Any], actor_id: str, confirmed_key_id: str | None = None) -> dict[str, Any] | None:
    """The document's public key if it is the actor's own; None for a key it merely claims.

    A key is the actor's when its `owner` is the actor, its id is on the actor's origin, and the
    id's document part is the actor itself (`{actor}#main-key`) or was fetched and named the actor
    as owner (`confirmed_key_id`). Otherwise an actor could claim another actor's key id and the
    cache would take that actor's real signatures for failures.
    """
    key = _public_key(document, None)
    if key is None:
        return None
    key_id, owner = key.get("id"), key.get("owner")
    if not isinstance(key_id, str) or owner != actor_id or not same_origin(key_id, actor_id):
        return None
    if key_id.split("#", 1)[0] != actor_id and key_id != confirmed_key_id:
        return None
    return key


def store_actor(
    session: Session, document: dict[str, Any], source_url: str, confirmed_key_id: str | None = None
) -> RemoteActor:
    """Upsert the cache row of an actor document fetched from `source_url`.

    Its key is kept only when the actor owns it (`owned_key`); a claimed key is dropped, not an
    error. `confirmed_key_id` is a key id whose own document was fetched and named this actor.
    """
    actor_id = document.get("id")
    if not isinstance(actor_id, str) or not same_origin(actor_id, source_url):
        raise FetchError(f"{source_url} answered a document whose id {actor_id!r} is from another origin")
    inbox = document.get("inbox")
    if not isinstance(inbox, str):
        raise FetchError(f"{actor_id} has no inbox; it is not an actor")
    endpoints = document.get("endpoints")
    shared = (endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None) or document.get("sharedInbox")
    key = owned_key(document, actor_id, confirmed_key_id)
    row = session.scalar(select(RemoteActor).where(RemoteActor.ap_id == actor_id))
    if row is None:
        # Two requests from a new actor arrive at once: the second insert loses and reads the first.
        try:
            with session.begin_nested():
                row = RemoteActor(ap_id=actor_id, inbox=inbox, document={}, fetched_at=now())
                session.add(row)
        except IntegrityError:
            row = session.scalar(select(RemoteActor).where(RemoteActor.ap_id == actor_id))
            assert row is not None
    username = document.get("preferredUsername")
    row.type = str(document.get("type", "Person"))[:32]
    row.inbox = inbox
    row.shared_inbox = shared if isinstance(shared, str) else None
    row.key_id = key.get("id") if key else None
    if row.key_id is not None:
        # A key belongs to one actor: forget any other row that claimed it (cached before this check).
        for other in session.scalars(
            select(RemoteActor).where(RemoteActor.key_id == row.key_id, RemoteActor.ap_id != actor_id)
        ):
            other.key_id, other.public_key_pem = None, None
    row.public_key_pem = key.get("publicKeyPem") if key else None
    row.handle = f"{username}@{urlsplit(actor_id).netloc}" if isinstance(username, str) else None
    row.name = str(document.get("name") or username or "")[:400]
    row.followers = document.get("followers") if isinstance(document.get("followers"), str) else None
    row.moved_to = document.get("movedTo") if isinstance(document.get("movedTo"), str) else None
    row.document = document
    row.fetched_at = now()
    session.add(row)
    session.flush()
    return row


class NotCached(FetchError):
    """An actor the caller should have fetched before its transaction is not in the cache."""


def cached_actor(session: Session, actor_id: str) -> RemoteActor:
    """The cached actor `actor_id`, whatever its age; NotCached when it was never fetched (no network)."""
    row = session.scalar(select(RemoteActor).where(RemoteActor.ap_id == actor_id))
    if row is None:
        raise NotCached(f"{actor_id} is not known here yet (it could not be fetched); try again later")
    return row


def is_fresh(row: RemoteActor | None) -> bool:
    """True when a cached actor is recent enough to use without fetching it again."""
    return row is not None and now() - row.fetched_at < ACTOR_MAX_AGE


def fetch_each(urls: Iterable[str], key: SigningKey) -> dict[str, dict[str, Any] | str]:
    """Network only: each URL's document, or the error text of its fetch (one failure spoils no other)."""
    found: dict[str, dict[str, Any] | str] = {}
    for url in urls:
        try:
            found[url] = get_json(url, key)
        except FetchError as error:
            found[url] = str(error)
    return found


def key_owner_document(key_id: str, key: SigningKey) -> tuple[dict[str, Any], str, str | None]:
    """Network only: the actor document owning `key_id`, the URL it came from, and the key id when a
    separate key document confirmed that owner (for `store_actor`; no database)."""
    url = key_id.split("#", 1)[0]
    document = get_json(url, key)
    confirmed = None
    if "inbox" not in document and isinstance(document.get("owner"), str):
        # A key document (some servers serve keys apart): its owner is the actor.
        if not same_origin(document["owner"], url):
            raise FetchError(f"key {key_id} names an owner on another origin")
        if document.get("id") == key_id or document.get("id") == url:
            confirmed = key_id
        url = document["owner"]
        document = get_json(url, key)
    return document, url, confirmed


def parse_handle(handle: str) -> tuple[str, str]:
    """Split `@user@host` (or `acct:user@host`) into (user, host); raise Invalid otherwise."""
    match = _HANDLE.match(handle.strip())
    if not match:
        raise Invalid(f"{handle!r} is not a fediverse handle like @user@host")
    return match.group(1), match.group(2).lower()


def _webfinger_href(handle: str, key: SigningKey, transport: httpx.AsyncBaseTransport | None = None) -> str:
    """Network only: the ActivityPub actor id WebFinger lists for `@user@host`."""
    user, host = parse_handle(handle)
    scheme = "http" if get_settings().insecure_http and not host.endswith(":443") else "https"
    url = f"{scheme}://{host}/.well-known/webfinger?resource=acct:{user}@{host}"
    document = get_json(url, key, accept=JRD_ACCEPT, transport=transport)
    for link in document.get("links") or []:
        if not isinstance(link, dict) or link.get("rel") != "self":
            continue
        kind = str(link.get("type", ""))
        if ("activity+json" in kind or "ld+json" in kind) and isinstance(link.get("href"), str):
            return link["href"]
    raise FetchError(f"{url} lists no ActivityPub actor for @{user}@{host}")


def fetch_actor(id_or_handle: str, refresh: bool = False) -> dict[str, Any]:
    """The document of the actor named by an id URL or `@user@host`, cached; fetched when missing,
    stale or `refresh`.

    For callers about to write: call it with no transaction open. It opens its own short ones (to
    read the key and the cache, then to store the document) and none while waiting on the network:
    on SQLite a transaction that has written holds the one write lock, and a slow server would
    stall every write of the instance. `cached_actor` on the returned `id` then reads the cache.
    """
    is_url = id_or_handle.startswith(("http://", "https://"))
    with session_scope() as session:
        key = instance_signing_key(session)  # may create the key: a short write, committed here
        if is_url and not refresh:
            row = session.scalar(select(RemoteActor).where(RemoteActor.ap_id == id_or_handle))
            if row is not None and is_fresh(row):
                return dict(row.document)
    actor_id = id_or_handle if is_url else _webfinger_href(id_or_handle, key)
    document = get_json(actor_id, key)
    with write_scope() as session:
        return dict(store_actor(session, document, actor_id).document)


def prefetch(id_or_handle: str, refresh: bool = False) -> str:
    """The actor id named by an id URL or `@user@host`, its document fetched and cached first (`fetch_actor`)."""
    return str(fetch_actor(id_or_handle, refresh)["id"])
