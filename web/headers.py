"""Security headers of HTML pages: a strict Content-Security-Policy on every one of them.

Pages run no inline script and carry no inline style: scripts and styles come from /static only,
so an injected `<script>`, `onclick=` or `javascript:` link does nothing even if it got past
escaping. `render()` sets the policy of each page; `SecurityHeadersMiddleware` gives every other
HTML response (Starlette's own, pages built by hand) the strictest one.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_DIRECTIVES = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    # Course units and mails show pictures hosted elsewhere; pictures cannot run code.
    "img-src 'self' https: data:",
    "font-src 'self'",
    "connect-src 'self'",
    "frame-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
)
CSP = "Content-Security-Policy"


def content_security_policy(*, embeddable: bool = False, inline_styles: bool = False) -> str:
    """The policy of a page: framed only by ourselves unless `embeddable`; `inline_styles` for mail previews."""
    directives = list(_DIRECTIVES)
    if inline_styles:
        # A mail preview's sandboxed srcdoc iframe inherits this policy, and mail HTML is styled
        # inline (sanitised, scripts are still refused).
        directives[2] = "style-src 'self' 'unsafe-inline'"
    if not embeddable:
        directives.append("frame-ancestors 'none'")
    return "; ".join(directives)


STRICT = content_security_policy()


class SecurityHeadersMiddleware:
    """Adds the strict policy (and nosniff) to every HTML response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html") and CSP not in headers:
                    headers[CSP] = STRICT
                    headers.setdefault("X-Content-Type-Options", "nosniff")
            await send(message)

        await self.app(scope, receive, send_with_headers)
