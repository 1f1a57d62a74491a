"""The client's address behind reverse proxies: X-Forwarded-For believed only from trusted proxies.

Rate limits count per client address, so a client must not choose its own: the header is read only
when the connection comes from one of `MECHMOOC_TRUSTED_PROXIES` (none by default), and then from
the right, skipping trusted hops, so that addresses a client wrote in front of the proxy's are
ignored. `mechmooc serve` starts uvicorn without its own proxy-header handling for the same reason.
"""

from __future__ import annotations

import ipaddress

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from server.floor.settings import IPNetwork

SCHEMES = {"http": {"http", "https"}, "websocket": {"ws", "wss"}}


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address from one X-Forwarded-For hop (`1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `::1`)."""
    value = text.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_trusted(host: str, trusted: tuple[IPNetwork, ...]) -> bool:
    """True when `host` is one of the trusted proxies."""
    address = _address(host)
    return address is not None and any(address in network for network in trusted)


def forwarded_client(peer: str, forwarded_for: list[str], trusted: tuple[IPNetwork, ...]) -> str:
    """The client address: `peer`, or when `peer` is trusted the nearest untrusted X-Forwarded-For hop."""
    if not is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, trusted):
            address = _address(hop)
            return str(address) if address is not None else hop
    # Every hop is a trusted proxy: the leftmost is as close to the client as we can know.
    return hops[0] if hops else peer


class ForwardedClientMiddleware:
    """Sets scope["client"] (and the scheme) from X-Forwarded-* when the connection is a trusted proxy."""

    def __init__(self, app: ASGIApp, trusted: tuple[IPNetwork, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in SCHEMES and self.trusted and client and is_trusted(client[0], self.trusted):
            headers = Headers(scope=scope)
            scope["client"] = (forwarded_client(client[0], headers.getlist("x-forwarded-for"), self.trusted), 0)
            proto = headers.get("x-forwarded-proto", "").rsplit(",", 1)[-1].strip().lower()
            if proto in SCHEMES[scope["type"]]:
                scope["scheme"] = proto
        await self.app(scope, receive, send)
