"""HTTP endpoints of the mail package (machine-facing): one-click unsubscribe, pixel, clicks, provider webhooks.

The inbound and complaint webhooks authenticate with `webhook_token()` (derived from the instance
secret), given as `Authorization: Bearer TOKEN` or `?token=TOKEN` for providers that only let you set a
URL; the providers' own bounce and complaint webhooks (SES, Mailgun, Postmark, SendGrid) are checked
the way each provider signs them (mail.webhooks).
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
from mail.unsubscribe import SCOPES, ask_to_stop_all, stop_all, unsubscribe
from mail.webhooks.routes import routes as provider_webhooks
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
    """RFC 8058 one-click unsubscribe from the mail's run (and the confirmation page's form, scope=run|all).

    scope=all leaves the run too, and mails the address a link to confirm stopping every mail: the
    key of one mail never stops more than its run by itself (a quoted link could be anyone's)."""
    form = await request.form()
    scope = str(form.get("scope", "run"))
    if scope not in SCOPES:
        return PlainTextResponse(f"scope must be one of {', '.join(SCOPES)}", status_code=400)
    key = request.path_params["token"]

    def work() -> str:
        with session_scope() as session:
            address = unsubscribe(session, key)
            if scope == "all":
                ask_to_stop_all(session, key)
            return address

    try:
        address = await run_in_threadpool(work)
    except NotFound as error:
        return PlainTextResponse(str(error), status_code=404)
    done = "asked" if scope == "all" else "run"
    if form.get("page"):
        # The confirmation page's form: back to the page, which now says what was done.
        return RedirectResponse(f"/mail/unsubscribe/{key}?done={done}", status_code=303)
    if scope == "all":
        return PlainTextResponse(f"{address} is unsubscribed; a mail to it asks to confirm stopping every mail.")
    return PlainTextResponse(f"{address} is unsubscribed.")


async def stop_all_confirmed(request: Request) -> Response:
    """The person pressed the button of the link mailed to them: no more mail of this instance to them."""
    form = await request.form()
    signed = request.path_params["signed"]

    def work() -> str:
        with session_scope() as session:
            return stop_all(session, signed)

    try:
        address = await run_in_threadpool(work)
    except NotFound as error:
        return PlainTextResponse(str(error), status_code=404)
    if form.get("page"):
        return RedirectResponse(f"/mail/unsubscribe/all/{signed}?done=1", status_code=303)
    return PlainTextResponse(f"{address} will get no more mail from this instance.")


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
    """A provider hands over one raw RFC 5322 message; recipients from ?to= (repeatable) or its To/Cc;
    the envelope sender from ?from= or else the Return-Path the provider wrote (mail.screening)."""
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
    envelope_sender = request.query_params.get("from")
    outcomes = await run_in_threadpool(receive, raw, recipients, envelope_sender)
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
        Route("/mail/unsubscribe/all/{signed}", stop_all_confirmed, methods=["POST"]),
        Route("/mail/o/{token}.gif", open_pixel, methods=["GET"]),
        Route("/mail/c/{token}", click, methods=["GET"]),
        Route("/mail/webhooks/inbound", inbound_webhook, methods=["POST"]),
        Route("/mail/webhooks/complaint", complaint_webhook, methods=["POST"]),
        *provider_webhooks(),
    ]
