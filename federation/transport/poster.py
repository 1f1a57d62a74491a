"""A lean HTTP/1.1 client for delivery POSTs: keep-alive connections per host, each through the SSRF guard.

A fan-out POSTs one small signed body to hundreds of inboxes. httpx spent about 1.5 ms of CPU on
each such POST in its own layers (the auth flow, anyio and sniffio look-ups, the pool's
bookkeeping) and opened a new connection for nearly every one — six times the RSA signature the
POST needs. This client does only what a delivery needs, on asyncio streams:
- one connection per (scheme, host, port) at a time per caller, kept alive and reused by the
  next POST to that host (the caller's per-host limit bounds how many exist);
- the address is checked by the SSRF guard (`guard.check_target`) when a connection is opened,
  and the connection is pinned to it (TLS still verifies the name, SNI carries it);
- the answer's status line and headers are read; a body is read up to MAX_DISCARD bytes and
  thrown away (a delivery needs none of it), a longer or unframed one closes the connection;
- no redirects are followed (httpx did not follow them either: a 3xx is retried like a 5xx).
A POST on a kept-alive connection that the server closed meanwhile (no byte of an answer came)
is sent once more on a new connection, as browsers do; inboxes take an activity once by its id.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from federation.transport.guard import Resolver, check_target, system_resolver

MAX_HEAD = 64 * 1024
MAX_DISCARD = 64 * 1024
IDLE_FOR = 20.0  # seconds a kept-alive connection may wait for its next POST (servers close after 60-75 s)


class PostError(Exception):
    """The POST got no usable answer: the connection failed or the answer is not HTTP/1.x."""


@dataclass(frozen=True)
class Answer:
    """What a delivery keeps of an answer: the status and the Retry-After header if any."""

    status: int
    retry_after: str | None = None


class _Connection:
    """One open connection: its streams, whether it served a request before, when it went idle."""

    __slots__ = ("reader", "writer", "reused", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.reused = False
        self.idle_since = 0.0

    def usable(self) -> bool:
        """Still open, not closed by the server meanwhile, and not idle for too long."""
        return (
            not self.writer.is_closing() and not self.reader.at_eof() and time.monotonic() - self.idle_since < IDLE_FOR
        )

    def close(self) -> None:
        """Close the connection without waiting."""
        self.writer.close()


def _ssl_context() -> ssl.SSLContext:
    # The same trust store as httpx (certifi), so deliveries trust what fetches trust.
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()


class Poster:
    """POSTs over kept-alive connections, one asyncio event loop's worth (use within one loop)."""

    def __init__(
        self,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        connect_timeout: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.connect_timeout = connect_timeout
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._ssl = ssl_context  # certifi's trust store when None (tests bring their own CA)

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Answer:
        """POST `body` to `url` with `headers` (Host is the URL's netloc); raise PostError or guard.Refused."""
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
        lines += [
            f"{name}: {value}" for name, value in headers.items() if name.lower() not in {"host", "content-length"}
        ]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        key = (scheme, host, port)
        for _ in range(2):
            connection = self._take(key) or await self._connect(url, scheme, host, port)
            try:
                connection.writer.write(request)
                await connection.writer.drain()
                answer, keep = await _read_answer(connection.reader)
            except (_NoAnswer, ConnectionResetError, BrokenPipeError) as error:
                connection.close()
                if connection.reused:
                    continue  # the server closed a kept-alive connection before it read this POST
                raise PostError(f"{type(error).__name__}: {error}") from None
            except (OSError, EOFError, ValueError, asyncio.LimitOverrunError) as error:
                connection.close()
                raise PostError(f"{type(error).__name__}: {error}") from None
            except BaseException:  # a deadline (cancellation) mid-answer: the connection is unusable
                connection.close()
                raise
            if keep:
                connection.reused, connection.idle_since = True, time.monotonic()
                self._idle.setdefault(key, []).append(connection)
            else:
                connection.close()
            return answer
        raise PostError("the server closed the connection twice before answering")

    def _take(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.usable():
                return connection
            connection.close()
        return None

    async def _connect(self, url: str, scheme: str, host: str, port: int) -> _Connection:
        if self.allow_private:
            address = check_target(url, scheme, host, port, True, self.resolver)
        else:  # resolving may block: off the event loop
            address = await asyncio.to_thread(check_target, url, scheme, host, port, False, self.resolver)
        context: ssl.SSLContext | None = None
        if scheme == "https":
            context = self._ssl = self._ssl or _ssl_context()
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    address or host, port, limit=MAX_HEAD, ssl=context, server_hostname=host if context else None
                )
        except TimeoutError:
            raise PostError(f"could not connect to {host}:{port} within {self.connect_timeout:g} s") from None
        except (OSError, ssl.SSLError) as error:
            raise PostError(f"{type(error).__name__}: {error}") from None
        return _Connection(reader, writer)

    def close(self) -> None:
        """Close every kept-alive connection."""
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


class _NoAnswer(PostError):
    """The connection ended before the first byte of an answer."""


def _header_values(head: bytes) -> tuple[bytes, dict[bytes, bytes]]:
    """The status line and the headers (lower-case names; a repeated header keeps its last value)."""
    status_line, _, rest = head.partition(b"\r\n")
    headers: dict[bytes, bytes] = {}
    for line in rest.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return status_line, headers


async def _read_answer(reader: asyncio.StreamReader) -> tuple[Answer, bool]:
    """Read one answer (skipping 1xx ones); whether the connection can carry another request."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            if not error.partial:
                raise _NoAnswer("the server closed the connection without answering") from None
            raise PostError("the answer's headers were cut off") from None
        status_line, headers = _header_values(head)
        version, _, rest = status_line.partition(b" ")
        code = rest[:3]
        if not version.startswith(b"HTTP/1.") or not code.isdigit():
            raise PostError(f"not an HTTP/1 answer: {status_line[:80]!r}")
        status = int(code)
        if 100 <= status < 200:
            continue
        break
    keep = version == b"HTTP/1.1" and b"close" not in headers.get(b"connection", b"").lower()
    retry_after = headers.get(b"retry-after")
    answer = Answer(status, retry_after.decode("latin-1") if retry_after is not None else None)
    if status in {204, 304}:
        return answer, keep
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        return answer, keep and await _discard_chunked(reader)
    length = headers.get(b"content-length", b"")
    if length.isdigit() and int(length) <= MAX_DISCARD:
        await reader.readexactly(int(length))
        return answer, keep
    return answer, False  # unframed (read until close) or too long to be worth reading: close


async def _discard_chunked(reader: asyncio.StreamReader) -> bool:
    """Read a chunked body up to MAX_DISCARD; True if it ended there (the connection can be reused)."""
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, then the empty line
                pass
            return True
        total += size
        if total > MAX_DISCARD:
            return False
        await reader.readexactly(size + 2)
