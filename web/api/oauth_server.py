"""The OAuth 2 authorization server: authlib's grants (authorization code with PKCE, client
credentials, refresh token) and token revocation (RFC 7009) over our tables.

authlib runs synchronously; each request runs it in a worker thread inside one database session,
which the grants reach through `db()` (a context variable set for that thread).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from community import people
from server.floor.accounts import Account
from server.floor.clock import now
from web.api import scopes as scope_rules
from web.api.models import Application, AuthorizationCode, Token, digest

OOB = "urn:ietf:wg:oauth:2.0:oob"
CODE_LIFETIME = timedelta(minutes=10)
GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")
_db: ContextVar[Session] = ContextVar("api_oauth_db")


def db() -> Session:
    """The session of the OAuth request being handled in this thread."""
    return _db.get()


@contextmanager
def using(session: Session) -> Iterator[None]:
    """Run authlib's calls of this thread on `session`."""
    reset = _db.set(session)
    try:
        yield
    finally:
        _db.reset(reset)


def redirect_uris(application: Application) -> list[str]:
    """An app's registered redirect URIs (one per line)."""
    return [line.strip() for line in application.redirect_uris.splitlines() if line.strip()]


@dataclass
class Client:
    """An app as authlib sees a client."""

    row: Application

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = redirect_uris(self.row)
        return uris[0] if uris else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        requested = scope_rules.parse(scope)
        allowed = scope_rules.parse(self.row.scopes)
        return " ".join(requested) if scope_rules.subset(requested, allowed) else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in redirect_uris(self.row)

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(digest(client_secret), self.row.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


@dataclass
class IssuedToken:
    """A stored token as authlib's refresh and revocation flows see it."""

    row: Token

    def check_client(self, client: Client) -> bool:
        return self.row.application_id == client.row.id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        return bool(self.row.expires_at and self.row.expires_at <= now())

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None

    def get_user(self) -> Account | None:
        return db().get(Account, self.row.account_id) if self.row.account_id else None


@dataclass
class IssuedCode:
    """A stored authorization code as authlib sees it."""

    row: AuthorizationCode

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope


class Challenge(CodeChallenge):
    """PKCE (S256 or plain), optional as on Mastodon (confidential clients need no verifier)."""

    def get_authorization_code_challenge(self, authorization_code: IssuedCode) -> str | None:
        return authorization_code.row.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: IssuedCode) -> str | None:
        return authorization_code.row.code_challenge_method


class CodeGrant(grants.AuthorizationCodeGrant):
    """authorization_code: codes stored hashed, single use, ten minutes."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        db().add(
            AuthorizationCode(
                code_hash=digest(code),
                application_id=request.client.row.id,
                account_id=request.user.id,
                redirect_uri=request.payload.redirect_uri or "",
                scope=request.scope or "read",
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method")
                or ("plain" if data.get("code_challenge") else None),
                expires_at=now() + CODE_LIFETIME,
            )
        )
        db().flush()

    def query_authorization_code(self, code: str, client: Client) -> IssuedCode | None:
        row = db().scalar(select(AuthorizationCode).where(AuthorizationCode.code_hash == digest(code)))
        if row is None or row.application_id != client.row.id or row.expires_at <= now():
            return None
        return IssuedCode(row)

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        db().delete(authorization_code.row)
        db().flush()

    def authenticate_user(self, authorization_code: IssuedCode) -> Account | None:
        account = db().get(Account, authorization_code.row.account_id)
        return None if account is None or account.disabled else account


class ClientCredentials(grants.ClientCredentialsGrant):
    """client_credentials: a token of the app alone (no person), as Mastodon's app tokens."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class RefreshGrant(grants.RefreshTokenGrant):
    """refresh_token: a new access token (and refresh token); the old pair stops working."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        row = db().scalar(select(Token).where(Token.refresh_hash == digest(refresh_token)))
        return None if row is None or row.revoked_at is not None else IssuedToken(row)

    def authenticate_user(self, refresh_token: IssuedToken) -> Account | None:
        return refresh_token.get_user()

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        refresh_token.row.revoked_at = now()
        db().flush()


class Revocation(RevocationEndpoint):
    """POST /oauth/revoke: the app revokes one of its tokens (access or refresh)."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        hashed = digest(token_string)
        row = db().scalar(select(Token).where((Token.access_hash == hashed) | (Token.refresh_hash == hashed)))
        return IssuedToken(row) if row is not None else None

    def revoke_token(self, token: IssuedToken, request: OAuth2Request) -> None:
        token.row.revoked_at = now()
        db().flush()


class Request(OAuth2Request):
    """An OAuth request from parameters already read (query and form or JSON body)."""

    def __init__(self, method: str, uri: str, values: dict[str, str], headers: dict[str, str]) -> None:
        super().__init__(method, uri, headers=headers)
        self.values = values
        self.payload = BasicOAuth2Payload(values)

    @property
    def args(self) -> dict[str, str]:
        return self.values

    @property
    def form(self) -> dict[str, str]:
        return self.values


class Server(AuthorizationServer):
    """authlib's authorization server over our tables; responses as (status, body, headers)."""

    def __init__(self) -> None:
        super().__init__(scopes_supported=sorted(scope_rules.SUPPORTED))
        self.register_token_generator("default", mastodon_token)
        self.register_grant(CodeGrant, [Challenge(required=False)])
        self.register_grant(ClientCredentials)
        self.register_grant(RefreshGrant)
        self.register_endpoint(Revocation)

    def query_client(self, client_id: str) -> Client | None:
        if not isinstance(client_id, str) or len(client_id) > 64:
            return None
        row = db().scalar(select(Application).where(Application.client_id == client_id))
        return Client(row) if row is not None else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        user = request.user
        if user is not None:
            # The person's public side exists from the moment an app can act for them (mentions find it).
            people.local_profile(db(), user)
        db().add(
            Token(
                application_id=request.client.row.id,
                account_id=user.id if user is not None else None,
                access_hash=digest(token["access_token"]),
                refresh_hash=digest(token["refresh_token"]) if token.get("refresh_token") else None,
                scope=token["scope"],
            )
        )
        db().flush()

    def validate_requested_scope(self, scope: str | None) -> None:
        if scope_rules.unknown(scope_rules.parse(scope)):
            raise InvalidScopeError()

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request  # type: ignore[no-any-return]

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, dict[str, str]]:
        return status, body, dict(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


def mastodon_token(
    grant_type: str,
    client: Client,
    user: Account | None = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    """Mastodon's token answer: Bearer, the granted scope, created_at; no expiry (refresh optional)."""
    granted = client.get_allowed_scope(scope)
    if granted is None:
        raise InvalidScopeError()
    token: dict[str, Any] = {
        "access_token": secrets.token_urlsafe(32),
        "token_type": "Bearer",
        "scope": granted,
        "created_at": int(now().timestamp()),
    }
    if include_refresh_token and user is not None:
        token["refresh_token"] = secrets.token_urlsafe(32)
    return token


def revoke_app_tokens(session: Session, account_id: int, application_id: int) -> int:
    """The person withdraws an app's access: every token of theirs for it stops working."""
    result = session.execute(
        update(Token)
        .where(Token.account_id == account_id, Token.application_id == application_id, Token.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def secure_uri(uri: str) -> str:
    """The URI authlib's transport check sees (the deployment's TLS is the roof's concern)."""
    parts = urlsplit(uri)
    return parts._replace(scheme="https").geturl()


SERVER = Server()
