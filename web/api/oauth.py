"""OAuth 2 endpoints: /oauth/authorize (our login, then a consent page listing the app and its
scopes; the out-of-band redirect shows the code), /oauth/token, /oauth/revoke and the server
metadata at /.well-known/oauth-authorization-server (RFC 8414, as Mastodon 4.3 publishes it)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2 import OAuth2Error
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.floor.db import session_scope, write_scope
from server.floor.urls import absolute
from web.api import scopes as scope_rules
from web.api.oauth_server import GRANT_TYPES, OOB, SERVER, secure_uri, using
from web.api.oauth_server import Request as OAuthRequest
from web.auth import current_account, login_redirect
from web.csrf import posted_form
from web.headers import CSP
from web.templating import render

PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method")
MAX_PARAM = 2000
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _values(items: Any) -> dict[str, str]:
    """The OAuth parameters we know, as single strings of bounded size."""
    values: dict[str, str] = {}
    for name in (
        *PARAMS,
        "grant_type",
        "code",
        "code_verifier",
        "refresh_token",
        "token",
        "token_type_hint",
        "client_secret",
    ):
        value = items.get(name)
        if isinstance(value, str) and value and len(value) <= MAX_PARAM:
            values[name] = value
    return values


def _oauth_request(request: Request, values: dict[str, str]) -> OAuthRequest:
    return OAuthRequest(request.method, secure_uri(str(request.url)), values, dict(request.headers))


def _consent(request: Request, values: dict[str, str]) -> Response:
    """Validate the authorization request and show the consent page (or say what is wrong)."""
    with session_scope() as db, using(db):
        try:
            grant = SERVER.get_consent_grant(_oauth_request(request, values), end_user=current_account(request))
        except OAuth2Error as problem:
            return _refusal(request, problem)
        client = grant.client.row
        asked = scope_rules.parse(values.get("scope"))
        context = {
            "app": {"name": client.name, "website": client.website},
            "scopes": asked,
            "params": {name: values[name] for name in PARAMS if name in values},
            "scope_text": scope_rules.describe,
        }
    response = render(request, "api/authorize.html", context)
    # The approval's redirect goes to the app (often a custom scheme): browsers hold redirects after a
    # form to `form-action`, so this page leaves it out, as Mastodon's own authorization page does.
    policy = response.headers[CSP]
    response.headers[CSP] = "; ".join(part for part in policy.split("; ") if not part.startswith("form-action"))
    return response


def _refusal(request: Request, problem: OAuth2Error) -> Response:
    detail = problem.description or problem.error
    return render(request, "api/authorize_error.html", {"error": problem.error, "detail": detail}, status=400)


def authorize(request: Request) -> Response:
    """GET /oauth/authorize: log in first, then the consent page."""
    if current_account(request) is None:
        return login_redirect(request)
    return _consent(request, _values(request.query_params))


def authorize_submit(request: Request) -> Response:
    """POST /oauth/authorize (CSRF-checked form): approve or deny; the code goes to the redirect URI."""
    account = current_account(request)
    if account is None:
        return login_redirect(request)
    form = posted_form(request)
    values = _values(form)
    approved = form.get("decision") == "approve"
    with write_scope() as db, using(db):
        oauth_request = _oauth_request(request, values)
        try:
            grant = SERVER.get_consent_grant(oauth_request, end_user=account)
        except OAuth2Error as problem:
            return _refusal(request, problem)
        status, _body, headers = SERVER.create_authorization_response(
            oauth_request, grant_user=account if approved else None, grant=grant
        )
    location = headers.get("Location", "")
    if status != 302 or not location:
        return render(
            request, "api/authorize_error.html", {"error": "invalid_request", "detail": str(_body)}, status=400
        )
    if location.startswith(OOB):
        query = parse_qs(urlsplit(location).query)
        code = (query.get("code") or [""])[0]
        error = (query.get("error") or [""])[0]
        return render(request, "api/oob.html", {"code": code, "error": error})
    return RedirectResponse(location, status_code=302)


async def _body_values(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind == "application/json":
        body = await request.body()
        try:
            document = json.loads(body[:100_000] or b"{}")
        except ValueError:
            document = {}
        items = {str(k): v for k, v in document.items()} if isinstance(document, dict) else {}
        return _values({**dict(request.query_params), **items})
    form = await request.form(max_files=0, max_fields=50)
    try:
        return _values({**dict(request.query_params), **{k: v for k, v in form.items() if isinstance(v, str)}})
    finally:
        await form.close()


def _token_call(request: Request, values: dict[str, str], revoke: bool) -> tuple[int, Any, dict[str, str]]:
    with write_scope() as db, using(db):
        oauth_request = _oauth_request(request, values)
        if revoke:
            return SERVER.create_endpoint_response("revocation", oauth_request)  # type: ignore[no-any-return]
        return SERVER.create_token_response(oauth_request)  # type: ignore[no-any-return]


async def token(request: Request) -> Response:
    """POST /oauth/token: authorization_code (with PKCE), client_credentials, refresh_token."""
    values = await _body_values(request)
    status, body, headers = await run_in_threadpool(_token_call, request, values, False)
    return JSONResponse(body, status_code=status, headers={**headers, **NO_STORE})


async def revoke(request: Request) -> Response:
    """POST /oauth/revoke: the app gives up a token (200 {} as Mastodon, whether it existed or not)."""
    values = await _body_values(request)
    status, body, headers = await run_in_threadpool(_token_call, request, values, True)
    if status == 200:
        body = {}
    return JSONResponse(body, status_code=status, headers={**headers, **NO_STORE})


def metadata(request: Request) -> Response:
    """GET /.well-known/oauth-authorization-server."""
    return JSONResponse(
        {
            "issuer": absolute("/"),
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": absolute("/oauth/authorize"),
            "token_endpoint": absolute("/oauth/token"),
            "app_registration_endpoint": absolute("/api/v1/apps"),
            "revocation_endpoint": absolute("/oauth/revoke"),
            "scopes_supported": sorted(scope_rules.SUPPORTED),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": list(GRANT_TYPES),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }
    )


def routes() -> list[BaseRoute]:
    """The OAuth endpoints."""
    return [
        Route("/oauth/authorize", authorize, methods=["GET"]),
        Route("/oauth/authorize", authorize_submit, methods=["POST"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/revoke", revoke, methods=["POST"]),
        Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
    ]
