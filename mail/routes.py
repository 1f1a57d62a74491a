"""HTTP endpoints of the mail package (machine-facing): one-click unsubscribe, pixel, clicks, provider webhooks.

Webhooks authenticate with `webhook_token()` (derived from the instance secret), given as
`Authorization: Bearer TOKEN` or `?token=TOKEN` for providers that only let you set a URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mail.bounces import complaint, mail_by_token
from mail.inbound import parse, receive
from mail.lists import MAX_MESSAGE_BYTES
from mail.models import MailEvent
from mail.tracking import click_target
from mail.unsubscribe import SCOPES, unsubscribe
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.db import session_scope
from server.floor.errors import Invalid, MechMoocError, NotFound

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
# Paths the web package's CSRF protection must let through: they are called by mail clients and providers.
CSRF_EXEMPT_PREFIXES = ("/mail/unsubscribe/", "/mail/webhooks/")


def webhook_token() -> str:
    """The secret a provider's webhook must present."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"mail-webhook", hashlib.sha256).hexdigest()[:32]


def _authorized(request: Request) -> bool:
    given = request.query_params.get("token") or request.headers.get("authorization", "").removeprefix("Bearer ")
    return hmac.compare_digest(given.strip(), webhook_token())


def _record(token: str, kind: str, detail: str = "") -> bool:
    with session_scope() as session:
        mail = mail_by_token(session, token)
        if mail is None:
            return False
        session.add(MailEvent(mail_id=mail.id, kind=kind, email=mail.to_addr, detail=detail[:2000], created_at=now()))
        return True


async def one_click(request: Request) -> Response:
    """RFC 8058 one-click unsubscribe (and the confirmation page's form, with scope=run|all)."""
    form = await request.form()
    scope = str(form.get("scope", "run"))
    if scope not in SCOPES:
        return PlainTextResponse(f"scope must be one of {', '.join(SCOPES)}", status_code=400)

    def work() -> str:
        with session_scope() as session:
            return unsubscribe(session, request.path_params["token"], scope)

    try:
        address = await run_in_threadpool(work)
    except NotFound as error:
        return PlainTextResponse(str(error), status_code=404)
    if form.get("page"):
        # The confirmation page's form: back to the page, which now says it is done.
        return RedirectResponse(f"/mail/unsubscribe/{request.path_params['token']}?done={scope}", status_code=303)
    return PlainTextResponse(f"{address} is unsubscribed.")


async def open_pixel(request: Request) -> Response:
    """The 1x1 GIF of an (approximate) open; records nothing when tracking is off."""
    if get_settings().tracking:
        await run_in_threadpool(_record, request.path_params["token"], "open")
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


async def click(request: Request) -> Response:
    """Redirect to a link that was in the mail (signed), recording the click."""
    token = request.path_params["token"]
    target = click_target(token, request.query_params.get("u", ""), request.query_params.get("s", ""))
    if target is None:
        return PlainTextResponse("this link was not in one of our mails", status_code=400)
    if get_settings().tracking:
        await run_in_threadpool(_record, token, "click", target)
    return RedirectResponse(target, status_code=302)


async def inbound_webhook(request: Request) -> Response:
    """A provider hands over one raw RFC 5322 message; recipients from ?to= (repeatable) or its To/Cc."""
    if not _authorized(request):
        return PlainTextResponse("bad webhook token", status_code=401)
    raw = await request.body()
    if len(raw) > MAX_MESSAGE_BYTES:
        return PlainTextResponse(f"message larger than {MAX_MESSAGE_BYTES} bytes", status_code=413)
    recipients = request.query_params.getlist("to")
    if not recipients:
        message = parse(raw)
        recipients = [str(v) for h in ("Delivered-To", "To", "Cc") for v in message.get_all(h, [])]
        recipients = [r.strip() for value in recipients for r in value.split(",") if r.strip()]
    outcomes = await run_in_threadpool(receive, raw, recipients)
    return JSONResponse({"outcomes": outcomes})


async def complaint_webhook(request: Request) -> Response:
    """A provider's complaint (JSON email/token, or an ARF report): the address is suppressed."""
    if not _authorized(request):
        return PlainTextResponse("bad webhook token", status_code=401)
    raw = await request.body()
    is_json = request.headers.get("content-type", "").startswith("application/json")

    def work() -> str:
        with session_scope() as session:
            return complaint(session, raw, None if is_json else parse(raw))

    try:
        address = await run_in_threadpool(work)
    except (Invalid, MechMoocError) as error:
        return PlainTextResponse(str(error), status_code=400)
    return JSONResponse({"suppressed": address})


def routes() -> list[BaseRoute]:
    """The routes this package serves."""
    return [
        Route("/mail/unsubscribe/{token}", one_click, methods=["POST"]),
        Route("/mail/o/{token}.gif", open_pixel, methods=["GET"]),
        Route("/mail/c/{token}", click, methods=["GET"]),
        Route("/mail/webhooks/inbound", inbound_webhook, methods=["POST"]),
        Route("/mail/webhooks/complaint", complaint_webhook, methods=["POST"]),
    ]
