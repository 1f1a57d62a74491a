"""`POST /mail/webhooks/{ses,mailgun,postmark,sendgrid}`: providers' bounces and complaints.

Each answers 404 while its provider is not configured, 401 when the request does not prove it is
the provider's, 400 for a body that is not the provider's JSON, and 200 with an outcome per event
otherwise (`duplicate` for an event seen before, `not one of our mails`, `ignored` ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from mail.webhooks import sns
from mail.webhooks.events import ProviderEvent, record_events
from mail.webhooks.providers import mailgun_events, postmark_events, sendgrid_events, ses_events, sns_notification
from mail.webhooks.signatures import SENDGRID_SIGNATURE, SENDGRID_TIMESTAMP, basic_auth_ok, mailgun_problem, sendgrid_ok
from server.floor.config import get_settings
from server.floor.errors import Invalid
from server.floor.untrusted import bounded_json_loads

NOT_CONFIGURED = "this instance takes no {provider} webhooks (set {setting})"


def _not_configured(provider: str, setting: str) -> Response:
    return PlainTextResponse(NOT_CONFIGURED.format(provider=provider, setting=setting), status_code=404)


def _refused(reason: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(f"not accepted: {reason}", status_code=401, headers=headers)


async def _json(request: Request, kind: type) -> Any:
    """The body as JSON of `kind` (dict or list); Invalid naming what is wrong."""
    data = bounded_json_loads(await request.body(), max_depth=16)
    if not isinstance(data, kind):
        raise Invalid(f"the body must be a JSON {'object' if kind is dict else 'array'}")
    return data


async def _answer(events: list[ProviderEvent], extra: dict[str, Any] | None = None) -> Response:
    outcomes = await run_in_threadpool(record_events, events) if events else []
    return JSONResponse({"events": len(events), "outcomes": outcomes, **(extra or {})})


def _bad_body(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """A body that is not the provider's JSON is a 400 naming why."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except Invalid as error:
            return PlainTextResponse(str(error), status_code=400)

    wrapped.__doc__ = handler.__doc__
    return wrapped


@_bad_body
async def ses_webhook(request: Request) -> Response:
    """Amazon SES notifications through an SNS HTTPS subscription (signed by SNS)."""
    if not get_settings().webhook_ses_topics:
        return _not_configured("Amazon SES (SNS)", "MECHMOOC_WEBHOOK_SES")
    message = await _json(request, dict)
    try:
        # The certificate may be fetched: in a thread, with no database transaction open.
        await run_in_threadpool(sns.verify, message)
        if message.get("Type") == "SubscriptionConfirmation":
            return PlainTextResponse(await run_in_threadpool(sns.confirm_subscription, message))
    except sns.Refused as error:
        return _refused(str(error))
    except sns.Unreachable as error:
        return PlainTextResponse(str(error), status_code=502)
    if message.get("Type") != "Notification":
        return PlainTextResponse(f"{message.get('Type')}: nothing to do")
    notification = sns_notification(message)
    return await _answer(ses_events(notification, str(message.get("MessageId", ""))))


@_bad_body
async def mailgun_webhook(request: Request) -> Response:
    """Mailgun's webhooks (failed, complained), signed with the webhook signing key."""
    key = get_settings().webhook_mailgun_key
    if not key:
        return _not_configured("Mailgun", "MECHMOOC_WEBHOOK_MAILGUN_KEY")
    data = await _json(request, dict)
    problem = mailgun_problem(key, data.get("signature"))
    if problem:
        return _refused(problem)
    return await _answer(mailgun_events(data))


@_bad_body
async def postmark_webhook(request: Request) -> Response:
    """Postmark's bounce and spam complaint webhooks, behind the Basic auth of their URL."""
    credentials = get_settings().webhook_postmark_auth
    if not credentials:
        return _not_configured("Postmark", "MECHMOOC_WEBHOOK_POSTMARK_AUTH")
    if not basic_auth_ok(credentials, request.headers.get("authorization", "")):
        return _refused("wrong or missing Basic credentials", {"WWW-Authenticate": 'Basic realm="mail webhooks"'})
    return await _answer(postmark_events(await _json(request, dict)))


@_bad_body
async def sendgrid_webhook(request: Request) -> Response:
    """SendGrid's Signed Event Webhook (a batch of events, ECDSA-signed)."""
    key = get_settings().webhook_sendgrid_key
    if not key:
        return _not_configured("SendGrid", "MECHMOOC_WEBHOOK_SENDGRID_KEY")
    body = await request.body()
    signature = request.headers.get(SENDGRID_SIGNATURE, "")
    timestamp = request.headers.get(SENDGRID_TIMESTAMP, "")
    if not signature or not timestamp:
        return _refused(f"the {SENDGRID_SIGNATURE} and {SENDGRID_TIMESTAMP} headers are missing")
    if not sendgrid_ok(key, signature, timestamp, body):
        return _refused("the signature does not match")
    return await _answer(sendgrid_events(await _json(request, list)))


def routes() -> list[BaseRoute]:
    """The providers' webhook routes."""
    return [
        Route("/mail/webhooks/ses", ses_webhook, methods=["POST"]),
        Route("/mail/webhooks/mailgun", mailgun_webhook, methods=["POST"]),
        Route("/mail/webhooks/postmark", postmark_webhook, methods=["POST"]),
        Route("/mail/webhooks/sendgrid", sendgrid_webhook, methods=["POST"]),
    ]
