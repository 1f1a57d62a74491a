"""Apps: POST /api/v1/apps (register; the only time the client secret is shown) and
GET /api/v1/apps/verify_credentials (the app of the token)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.routing import BaseRoute, Route

from server.floor.db import session_scope
from web.api import scopes as scope_rules
from web.api.http import ApiError, Call, endpoint
from web.api.models import Application, digest
from web.api.oauth_server import OOB, redirect_uris

MAX_URIS = 10
REFUSED_SCHEMES = {"javascript", "data", "vbscript", "file", "blob", "about"}


def check_redirect_uri(uri: str) -> str:
    """A redirect URI apps may register: absolute, no fragment, not a script scheme (or the OOB one)."""
    uri = uri.strip()
    if uri == OOB:
        return uri
    parts = urlsplit(uri)
    if len(uri) > 2000 or not parts.scheme or parts.fragment or parts.scheme.lower() in REFUSED_SCHEMES:
        raise ApiError(422, "Validation failed: Redirect URI must be an absolute URI.")
    if parts.scheme.lower() in {"http", "https"} and not parts.netloc:
        raise ApiError(422, "Validation failed: Redirect URI must be an absolute URI.")
    return uri


def app_entity(row: Application) -> dict[str, Any]:
    """The Application entity (without its secret)."""
    uris = redirect_uris(row)
    return {
        "id": str(row.id),
        "name": row.name,
        "website": row.website,
        "scopes": scope_rules.parse(row.scopes),
        "redirect_uri": "\n".join(uris),
        "redirect_uris": uris,
        "vapid_key": "",
    }


@endpoint(public=True, user=False)
def create(call: Call) -> dict[str, Any]:
    """POST /api/v1/apps."""
    params = call.params
    name = params.text("client_name", limit=200).strip()
    if not name:
        raise ApiError(422, "Validation failed: Application name can't be blank")
    raw = params.list("redirect_uris")
    texts = [line for item in raw if isinstance(item, str) for line in item.split()]
    if not texts:
        raise ApiError(422, "Validation failed: Redirect URI can't be blank")
    if len(texts) > MAX_URIS:
        raise ApiError(422, f"Validation failed: at most {MAX_URIS} redirect URIs")
    uris = [check_redirect_uri(uri) for uri in texts]
    asked = scope_rules.parse(params.text("scopes", limit=scope_rules.MAX_SCOPES_TEXT))
    if scope_rules.unknown(asked):
        raise ApiError(422, f"Validation failed: Scopes {' '.join(scope_rules.unknown(asked))} are not known")
    website = params.text("website", limit=2000).strip() or None
    if website and urlsplit(website).scheme not in {"http", "https"}:
        raise ApiError(422, "Validation failed: Website must be an http(s) URL")
    secret = secrets.token_urlsafe(32)
    with session_scope() as db:
        row = Application(
            name=name,
            website=website,
            redirect_uris="\n".join(uris),
            scopes=" ".join(asked),
            client_id=secrets.token_urlsafe(32),
            client_secret_hash=digest(secret),
        )
        db.add(row)
        db.flush()
        entity = app_entity(row)
        entity.update({"client_id": row.client_id, "client_secret": secret, "client_secret_expires_at": 0})
    return entity


@endpoint(user=False)
def verify(call: Call) -> dict[str, Any]:
    """GET /api/v1/apps/verify_credentials."""
    assert call.token is not None
    with session_scope() as db:
        row = db.get(Application, call.token.application_id)
        if row is None:
            raise ApiError(401, "The access token is invalid")
        return app_entity(row)


def routes() -> list[BaseRoute]:
    """The apps endpoints."""
    return [
        Route("/api/v1/apps", create, methods=["POST"]),
        Route("/api/v1/apps/verify_credentials", verify, methods=["GET"]),
    ]
