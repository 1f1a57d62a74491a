"""The inbox: check, verify, record by id, answer 202; a background job applies the effects.

Order of checks on POST: body size (413), JSON (400), blocked domain (403), signature and key
owner = activity actor (401). An accepted activity is stored as an `InboxActivity` row before any
effect; its id is unique, so a duplicate or replayed POST changes nothing. The `federation.inbox`
job then runs the registered handlers (`federation.handlers`) for each row, once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from federation import handlers
from federation.actors import local_actor
from federation.authenticate import authenticate
from federation.delivery import delivery_host, host_answered
from federation.handlers import Inbound, activity_type, object_id
from federation.models import InboxActivity, RemoteHost
from federation.moderation import refused
from federation.signatures import ReceivedRequest, SignatureError
from server.clock import now
from server.config import get_settings
from server.db import session_factory, session_scope
from server.jobs import job, wake
from server.queue import QUEUED, backoff, claim, fail, retry_later, succeed

MAX_BODY = 1_000_000
MAX_ATTEMPTS = 6
JOB = "federation.inbox"
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
    except ValueError:
        return _problem(400, "body is not JSON")
    if not isinstance(activity, dict) or not activity_type(activity) or not object_id(activity.get("actor")):
        return _problem(400, "body is not an activity (needs type and actor)")
    recipient = request.url.path.removesuffix("/inbox") or None
    recipient = get_settings().url + recipient if recipient else None
    status, detail = await run_in_threadpool(accept, received_request(request, body), activity, recipient)
    return Response(status_code=202) if status == 202 else _problem(status, detail)


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


def accept(received: ReceivedRequest, activity: dict[str, Any], recipient: str | None) -> tuple[int, str]:
    """Verify and record one POSTed activity; (HTTP status, reason)."""
    actor = object_id(activity.get("actor")) or ""
    with session_scope() as session:
        if recipient is not None and local_actor(session, recipient) is None:
            return 404, f"no actor has the inbox {recipient}/inbox"
        if refused(session, actor):
            return 403, f"{actor} is blocked here"
        try:
            signer = authenticate(session, received)
        except SignatureError as error:
            if _gone_actor_delete(activity, actor):
                return 202, "deletion of an actor we cannot fetch: nothing to do"
            return 401, str(error)
        if signer.actor != actor:
            return 401, f"signed by {signer.actor}, but the activity's actor is {actor}"
        _host_is_back(session, actor)
        # A duplicate only rolls back its savepoint: a key fetched above is committed either way.
        row = _record(session, activity, actor, recipient, activity_key(activity, actor, received.body))
        if row is None:
            return 202, "duplicate"
        already_due = _others_due(session, row.id)
    if not already_due:
        wake(JOB)
    return 202, "accepted"


def _host_is_back(session: Session, actor: str) -> None:
    """A host we marked unavailable talks to us again: resume delivering to it."""
    host = session.get(RemoteHost, delivery_host(actor))
    if host is not None and host.unavailable_since is not None:
        host_answered(session, host.host)


def _gone_actor_delete(activity: dict[str, Any], actor: str) -> bool:
    """A Delete of an actor by itself: its key is gone with it, so we cannot (and need not) verify."""
    return activity_type(activity) == "Delete" and object_id(activity.get("object")) == actor


def _others_due(session: Session, row_id: int) -> bool:
    """True when other activities wait already: a worker was woken for them and will take this one too."""
    query = select(InboxActivity.id).where(
        InboxActivity.state == QUEUED, InboxActivity.next_attempt_at <= now(), InboxActivity.id != row_id
    )
    return session.scalar(query.limit(1)) is not None


def _record(
    session: Session, activity: dict[str, Any], actor: str, recipient: str | None, key: str
) -> InboxActivity | None:
    """Store the activity by id; None when that id was already received."""
    row = InboxActivity(
        activity_id=key[:2000],
        type=activity_type(activity)[:64],
        actor=actor,
        recipient=recipient,
        payload=activity,
        received_at=now(),
        next_attempt_at=now(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def apply(session: Session, row: InboxActivity) -> str:
    """Run the handlers of one stored activity in the caller's transaction; the outcome."""
    inbound = Inbound(
        session=session, activity=row.payload, actor=row.actor, recipient=row.recipient, activity_id=row.activity_id
    )
    return handlers.dispatch(inbound)[:200]


@job(JOB, every=30)
def process_inbox(limit: int = 50) -> int:
    """Apply due received activities, each in its own transaction; how many were worked."""
    worked = 0
    session = session_factory()()
    try:
        while rows := claim(session, InboxActivity, limit=limit):
            for row in rows:
                _work(session, row)
                # One activity per transaction: SQLite's single writer lock is held briefly.
                session.commit()
                worked += 1
    finally:
        session.close()
    return worked


def _work(session: Session, row: InboxActivity) -> None:
    try:
        with session.begin_nested():
            outcome = apply(session, row)
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
