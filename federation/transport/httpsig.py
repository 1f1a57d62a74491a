"""Signing outgoing requests: an `httpx.Auth` that signs every request as Mastodon does."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from federation.protocol.crypto import SigningKey
from federation.protocol.signatures import sign_request
from server.floor.clock import now


class HttpSignatureAuth(httpx.Auth):
    """Adds Date, Digest (on bodies) and a draft-cavage rsa-sha256 `Signature` to each request."""

    requires_request_body = True

    def __init__(self, key: SigningKey) -> None:
        self.key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign `request` in place and send it."""
        body = request.content if request.method.upper() != "GET" else None
        headers = sign_request(self.key, request.method, str(request.url), dict(request.headers), body, now())
        for name, value in headers.items():
            request.headers[name] = value
        yield request
