"""The inbox: check, verify, record by id, answer 202; a background job applies the effects.

Order of checks on POST: body size (413), JSON (400), blocked domain (403), signature (401). An
accepted activity is stored as an `InboxActivity` row before any effect; its id is unique, so a
duplicate or replayed POST changes nothing. The `federation.entry.inbox` job then runs the
registered handlers (`federation.entry.handlers`) for each row, once. An activity signed by
another actor than its own (a forward) is taken too, marked `forwarded_by`, and believed only
once its object was fetched from its origin (`federation.entry.forwarded`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import anyio
from sqlalchemy import Connection, Insert, Select, bindparam, exists, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from federation.entry import handlers
from federation.entry.forwarded import forward_needs, verified
from federation.entry.handlers import Inbound, activity_type, object_id
from federation.entry.prefetch import Fetched, gather, handed_in
from federation.flows.actors import local_actor
from federation.models import InboxActivity, RemoteHost
from federation.protocol.signatures import (
    ParsedSignature,
    ReceivedRequest,
    SignatureError,
    check_policy,
    parse_signature,
)
from federation.transport.authenticate import Signer, authenticate, cached_key, verified_by_cached
from federation.transport.delivery import delivery_host, host_answered
from federation.transport.fetch import same_origin
from federation.transport.moderation import refused_clause, refused_params
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.db import get_engine, immediate, session_factory, session_scope
from server.floor.jobs import job, wake
from server.floor.queue import backoff, claim, fail, retry_later, succeed

MAX_BODY = 1_000_000
MAX_ATTEMPTS = 6
JOB = "federation.entry.inbox"
INBOX_CONNECTIONS = 4  # below server.floor.db's pool_size of 5, leaving one for the other pages
log = logging.getLogger(__name__)


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status)


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def received_request(request: Request, body: bytes) -> ReceivedRequest:
    """The request as signature verification sees it, its URL rebuilt on MECHMOOC_URL."""
    query = f"?{request.url.query}" if request.url.query else ""
    url = get_settings().url + request.url.path + query
    return ReceivedRequest.build(request.method, url, request.headers.items(), body)


async def receive(request: Request) -> Response:
    """POST to the shared inbox or an actor's inbox."""
    body = await _read_body(request)
    if body is None:
        return _problem(413, f"activity larger than {MAX_BODY} bytes")
    try:
        activity = json.loads(body)
    except RecursionError:  # json.loads recurses per nesting level: `[[[[...` a hundred thousand deep
        return _problem(400, "body is JSON nested too deep")
    except ValueError:
        return _problem(400, "body is not JSON")
    if not isinstance(activity, dict) or not activity_type(activity) or not object_id(activity.get("actor")):
        return _problem(400, "body is not an activity (needs type and actor)")
    if (squat := foreign_object(activity)) is not None:
        return _problem(400, squat)
    recipient = request.url.path.removesuffix("/inbox") or None
    recipient = get_settings().url + recipient if recipient else None
    received = received_request(request, body)
    status, detail = await anyio.to_thread.run_sync(accept, received, activity, recipient, limiter=_limiter(request))
    return Response(status_code=202) if status == 202 else _problem(status, detail)


# Activities whose embedded object we may store under its id: that id must be the actor's to give.
OBJECT_CARRYING = frozenset({"Create", "Update"})


def foreign_object(activity: dict[str, Any]) -> str | None:
    """Why an embedded object's id cannot be accepted (ours, or another origin than the actor's); None if fine.

    Otherwise a remote server could store a Note as `https://us/posts/7` (colliding with our own
    post) or as another server's id, pre-empting the genuine object.
    """
    obj = activity.get("object")
    if activity_type(activity) not in OBJECT_CARRYING or not isinstance(obj, dict):
        return None
    value, actor = obj.get("id"), object_id(activity.get("actor")) or ""
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        return f"object id {value!r} is not an http(s) URL"
    if same_origin(value, get_settings().url) and not same_origin(actor, value):
        return f"object id {value} is on this server; a remote actor cannot create or update it"
    if not same_origin(value, actor):
        return f"object id {value} is not on the origin of its actor {actor}"
    return None


def _limiter(request: Request) -> anyio.CapacityLimiter:
    """How many POSTs of this app verify and record at once: fewer than the pool's kept connections.

    More would take overflow connections, opened and closed per request (a new PostgreSQL backend
    each time); the rest wait here, without holding a thread. It limits, and stores, nothing else.
    """
    state = request.app.state
    if getattr(state, "inbox_limiter", None) is None:
        state.inbox_limiter = anyio.CapacityLimiter(INBOX_CONNECTIONS)
    limiter: anyio.CapacityLimiter = state.inbox_limiter
    return limiter


def activity_key(activity: dict[str, Any], actor: str, body: bytes) -> str:
    """The key an activity is recorded under: its id, scoped to the actor when the id is foreign.

    Scoping keeps one server from squatting another's activity ids (a later genuine activity with
    that id would otherwise be taken for a replay); id-less activities are keyed by their bytes.
    """
    value = activity.get("id")
    if not isinstance(value, str) or not value:
        return "urn:sha256:" + hashlib.sha256(body).hexdigest()
    if urlsplit(value).netloc.lower() == urlsplit(actor).netloc.lower():
        return value
    return f"{value} (from {actor})"


@dataclass(frozen=True)
class Gate:
    """What the inbox reads before verifying, in one SELECT: blocks, the cached key, the host's state."""

    refused: bool
    key_owner: str | None
    key_pem: str | None
    host_down: bool


@dataclass(frozen=True)
class Arrival:
    """An activity as POSTed, with the actor it claims and the key it is recorded under."""

    activity: dict[str, Any]
    actor: str
    recipient: str | None
    key: str
    forwarded_by: str | None = None


@lru_cache(maxsize=1)
def _gate_statement() -> Select[bool, str, str | None, bool]:
    """The hot path's one SELECT, built once: building a statement costs more than running it on SQLite."""
    owner, pem = cached_key()
    host = RemoteHost.host == bindparam("host")
    host_down = exists().where(host, RemoteHost.unavailable_since.is_not(None))
    return select(refused_clause(), owner, pem, host_down)


def read_gate(connection: Connection, actor: str, key_id: str | None) -> Gate:
    """Every read of the hot path in one statement, on a Core connection (no ORM session); ends the read."""
    params = refused_params(actor) | {"key_id": key_id, "host": delivery_host(actor)}
    row = connection.execute(_gate_statement(), params).one()
    connection.rollback()
    return Gate(bool(row[0]), row[1], row[2], bool(row[3]))


def _policy_checked(received: ReceivedRequest) -> ParsedSignature | None:
    """The parsed signature if it passes the policy; None leaves the reason to `authenticate`."""
    try:
        parsed = parse_signature(received)
        check_policy(received, parsed, now())
    except SignatureError:
        return None
    return parsed


def _authenticate_slowly(received: ReceivedRequest) -> Signer:
    """Local keys, unknown keys and cached keys that failed: `authenticate` with its fetch and refetch."""
    with session_scope() as session:
        return authenticate(session, received)


def accept(received: ReceivedRequest, activity: dict[str, Any], recipient: str | None) -> tuple[int, str]:
    """Verify and record one POSTed activity; (HTTP status, reason). The row is committed before 202."""
    actor = object_id(activity.get("actor")) or ""
    if recipient is not None:
        with session_scope() as session:
            if local_actor(session, recipient) is None:
                return 404, f"no actor has the inbox {recipient}/inbox"
    parsed = _policy_checked(received)
    key = activity_key(activity, actor, received.body)
    with get_engine().connect() as connection:
        gate = read_gate(connection, actor, parsed.key_id if parsed else None)
        if gate.refused:
            return 403, f"{actor} is blocked here"
        try:
            signer = verified_by_cached(parsed, gate.key_owner, gate.key_pem) if parsed else None
        except SignatureError as error:
            return _unverified(activity, actor, error)
        if signer is not None and not gate.host_down:  # the common case: one connection throughout
            return _recorded(connection, Arrival(activity, actor, recipient, key), signer.actor, gate)
    # The connection is given back first: authenticate may fetch a key over the network.
    try:
        signer = signer or _authenticate_slowly(received)
    except SignatureError as error:
        return _unverified(activity, actor, error)
    if gate.host_down:
        # A host we marked unavailable talks to us again: resume delivering to it.
        with session_scope() as session:
            host_answered(session, delivery_host(actor))
    with get_engine().connect() as connection:
        return _recorded(connection, Arrival(activity, actor, recipient, key), signer.actor, gate)


def _unverified(activity: dict[str, Any], actor: str, error: SignatureError) -> tuple[int, str]:
    """The answer to an activity whose signature cannot be trusted."""
    if _gone_actor_delete(activity, actor):
        return 202, "deletion of an actor we cannot fetch: nothing to do"
    return 401, str(error)


def _recorded(connection: Connection, inbound: Arrival, signer: str, gate: Gate) -> tuple[int, str]:
    """Record a verified activity (committed) and wake the worker.

    One signed by someone else than its actor is a forward: recorded under a key of its own (the
    genuine activity, should it come too, is not taken for its duplicate), checked by the worker.
    """
    if signer != inbound.actor:
        inbound = replace(inbound, key=f"{inbound.key} (forwarded by {signer})", forwarded_by=signer)
    if not _record(connection, inbound):
        return 202, "duplicate"
    # Every time (server.floor.jobs coalesces the messages): waking nobody when other rows were due
    # already lost this one whenever the job had claimed those and was about to end.
    wake(JOB)
    return 202, "accepted"


def _gone_actor_delete(activity: dict[str, Any], actor: str) -> bool:
    """A Delete of an actor by itself: its key is gone with it, so we cannot (and need not) verify."""
    return activity_type(activity) == "Delete" and object_id(activity.get("object")) == actor


# SQLite has one writer: threads of this process queue on this lock instead of on SQLite's busy
# handler, which sleeps in steps of up to 100 ms. Other processes still wait on busy_timeout.
_SQLITE_WRITER = threading.Lock()


@lru_cache(maxsize=2)
def _insert_statement(dialect: str) -> Insert:
    """INSERT of an inbox row that does nothing on a known activity id, returning the new row's id."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return insert(InboxActivity).on_conflict_do_nothing(index_elements=["activity_id"]).returning(InboxActivity.id)


def _record(connection: Connection, inbound: Arrival) -> bool:
    """Store the activity by its key and commit; False when that key was already received."""
    dialect = connection.dialect.name
    instant = now()
    row = {
        "activity_id": inbound.key[:2000],
        "type": activity_type(inbound.activity)[:64],
        "actor": inbound.actor,
        "recipient": inbound.recipient,
        "forwarded_by": inbound.forwarded_by,
        "payload": inbound.activity,
        "received_at": instant,
        "next_attempt_at": instant,
    }
    with nullcontext() if dialect == "postgresql" else _SQLITE_WRITER:
        inserted = connection.execute(_insert_statement(dialect), row).first() is not None
        connection.commit()
    return inserted


def inbound_of(session: Session, row: InboxActivity) -> Inbound:
    """A stored activity as its handlers see it."""
    return Inbound(
        session=session, activity=row.payload, actor=row.actor, recipient=row.recipient, activity_id=row.activity_id
    )


def apply(session: Session, row: InboxActivity, fetched: Fetched | None = None) -> str:
    """Run the handlers of one stored activity in the caller's transaction, with what `gather` fetched; the outcome."""
    inbound = handed_in(inbound_of(session, row), fetched or Fetched())
    if row.forwarded_by:
        checked = verified(inbound, row.forwarded_by)
        if isinstance(checked, str):
            return checked[:200]
        inbound = checked
    return handlers.dispatch(inbound)[:200]


@job(JOB, every=30)
def process_inbox(limit: int = 50) -> int:
    """Apply due received activities, each in its own transaction; how many were worked."""
    worked = 0
    session = session_factory()()
    try:
        while rows := claim(session, InboxActivity, limit=limit):
            for row in rows:
                # What the handlers need from other servers is fetched first, with no transaction open.
                fetched = _gathered(session, row)
                session.commit()
                # Handlers read, then write, inside a savepoint: on SQLite take the write lock first, or
                # a concurrent writer (another worker, `federation work`) makes the write fail, the
                # job stops and the activity waits out its 5-minute lease.
                immediate(session)
                _work(session, row, fetched)
                # One activity per transaction: SQLite's single writer lock is held briefly.
                session.commit()
                worked += 1
    finally:
        session.close()
    return worked


def _gathered(session: Session, row: InboxActivity) -> Fetched:
    """`gather` for one row; a failure there (a bad payload) is left for `apply` to meet and record."""
    try:
        inbound = inbound_of(session, row)
        return gather(inbound, forward_needs(inbound) if row.forwarded_by else None)
    except Exception as error:  # noqa: BLE001 - one bad activity must not stop the others
        log.warning("inbox activity %s: fetching what it needs failed: %s", row.activity_id, error)
        session.rollback()
        return Fetched()


def _work(session: Session, row: InboxActivity, fetched: Fetched) -> None:
    try:
        with session.begin_nested():
            outcome = apply(session, row, fetched)
    except Exception as error:  # noqa: BLE001 - one bad activity must not stop the others
        log.warning("inbox activity %s failed: %s", row.activity_id, error)
        reason = f"{type(error).__name__}: {error}"
        if row.attempts >= MAX_ATTEMPTS:
            fail(row, reason)
        else:
            retry_later(row, reason, backoff(row.attempts, base=30))
        return
    row.outcome = outcome
    succeed(row)
