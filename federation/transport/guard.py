"""The SSRF guard: remote requests go only to public addresses (unless MECHMOOC_INSECURE_HTTP=1).

Every outgoing request of the federation package (fetches and deliveries) goes through one of
these httpx transports. Each resolves the host, refuses the request when ANY address is private,
loopback, link-local, multicast or reserved, and then connects to the address it checked (pinning
it, with the original name kept for Host and TLS SNI) so that a second DNS answer cannot swap in
a private address. Redirects are followed by the caller one hop at a time, so each hop is checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable

import httpx

from server.floor.errors import MechMoocError

Resolver = Callable[[str, int], list[str]]


class Refused(MechMoocError):
    """A remote address we will not talk to (private, loopback, wrong scheme, unresolvable)."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise Refused(f"cannot resolve {host}: {error.strerror}") from None
    return sorted({str(info[4][0]) for info in infos})


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_url(url: httpx.URL, allow_private: bool, resolver: Resolver = system_resolver) -> str | None:
    """Refuse `url` unless it is https to public addresses; return the address to pin to (or None)."""
    return check_target(str(url), url.scheme, url.host, url.port, allow_private, resolver)


def check_target(
    url: str, scheme: str, host: str, port: int | None, allow_private: bool, resolver: Resolver = system_resolver
) -> str | None:
    """`check_url` on a URL's parts (`url` only names it in errors): the address to pin to, or None."""
    if scheme not in {"http", "https"}:
        raise Refused(f"{url}: only http(s) URLs may be fetched")
    if allow_private:
        return None
    if scheme != "https":
        raise Refused(f"{url}: plain http is refused (set MECHMOOC_INSECURE_HTTP=1 for development)")
    port = port or 443
    addresses = resolver(host, port)
    if not addresses:
        raise Refused(f"{host} has no address")
    bad = [address for address in addresses if not is_public(address)]
    if bad:
        raise Refused(f"{host} resolves to a non-public address ({bad[0]}); refused")
    return addresses[0]


def _pinned(request: httpx.Request, address: str | None) -> httpx.Request:
    if address is None:
        return request
    request.extensions = {**request.extensions, "sni_hostname": request.url.host}
    request.url = request.url.copy_with(host=address)
    return request


class GuardedTransport(httpx.BaseTransport):
    """A synchronous transport that checks and pins every request's address."""

    def __init__(
        self,
        allow_private: bool,
        inner: httpx.BaseTransport | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_private = allow_private
        self.inner = inner or httpx.HTTPTransport()
        self.resolver = resolver

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Check the address, then send through the inner transport."""
        address = check_url(request.url, self.allow_private, self.resolver)
        return self.inner.handle_request(_pinned(request, address))

    def close(self) -> None:
        """Close the inner transport's connections."""
        self.inner.close()


class AsyncGuardedTransport(httpx.AsyncBaseTransport):
    """The asynchronous twin of GuardedTransport, used by the delivery worker."""

    def __init__(
        self,
        allow_private: bool,
        inner: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_private = allow_private
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.resolver = resolver

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Check the address (resolving off the event loop), then send."""
        if self.allow_private:
            address = check_url(request.url, True, self.resolver)
        else:
            address = await asyncio.to_thread(check_url, request.url, False, self.resolver)
        return await self.inner.handle_async_request(_pinned(request, address))

    async def aclose(self) -> None:
        """Close the inner transport's connections."""
        await self.inner.aclose()
