"""HTTP pieces shared by the federation's endpoints: content negotiation, AP responses, authorized fetch."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match, Route
from starlette.types import Scope

from federation.entry.inbox import received_request
from federation.protocol.signatures import SignatureError
from federation.transport.authenticate import authenticate
from federation.transport.moderation import refused
from server.floor.config import get_settings
from server.floor.db import session_scope

AP_MEDIA_TYPE = "application/activity+json"


def wants_activitypub(headers: Headers) -> bool:
    """True when Accept asks for activity+json, or ld+json with the ActivityStreams profile."""
    accept = headers.get("accept", "").lower()
    if "application/activity+json" in accept:
        return True
    return "application/ld+json" in accept and "activitystreams" in accept


class ActivityPubRoute(Route):
    """A route that matches only requests asking for ActivityPub; others go on to the web pages."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """No match unless the Accept header asks for ActivityPub."""
        if scope["type"] == "http" and not wants_activitypub(Headers(scope=scope)):
            return Match.NONE, {}
        return super().matches(scope)


def activity_json(document: dict[str, Any], status: int = 200) -> JSONResponse:
    """A JSON-LD response with the ActivityPub media type."""
    return JSONResponse(document, status_code=status, media_type=AP_MEDIA_TYPE, headers={"Vary": "Accept"})


def refused_json(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status)


def signed_get_refusal(request: Request, is_instance_actor: bool) -> JSONResponse | None:
    """In authorized-fetch mode, refuse unsigned or badly signed GETs (the instance actor stays open)."""
    if not get_settings().authorized_fetch or is_instance_actor:
        return None
    received = received_request(request, b"")
    with session_scope() as session:
        try:
            signer = authenticate(session, received)
        except SignatureError as error:
            return refused_json(401, f"authorized fetch: {error}")
        if refused(session, signer.actor):
            return refused_json(403, f"{signer.actor} is blocked here")
    return None
