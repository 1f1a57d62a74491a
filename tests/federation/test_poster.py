"""The delivery client: keep-alive reuse per host, answers of every framing, the guard and the deadline.

Real HTTP servers on 127.0.0.1 (asyncio, in a thread); the job's tests deliver through the same client.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from federation.models import Delivery, Follower
from federation.transport import delivery
from federation.transport.guard import Refused
from federation.transport.keys import signing_key
from federation.transport.poster import Answer, Poster, PostError
from server.floor.db import get_engine
from server.floor.settings import Settings

COURSE = "http://testserver.localhost/courses/gentle-python"
Reply = Callable[[int], bytes]  # the n-th request's answer (raw bytes); b"" closes without answering


@dataclass
class Server:
    """What a test server saw: connections accepted and requests read (head, body)."""

    url: str = ""
    connections: int = 0
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)


def _keep_alive(_: int) -> bytes:
    return b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n"


@contextmanager
def http_server(reply: Reply = _keep_alive, close_after: int | None = None) -> Iterator[Server]:
    """An HTTP/1.1 server answering `reply(n)`; with `close_after`, each connection closes after that many."""
    server = Server()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        served = 0
        try:
            while close_after is None or served < close_after:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                body = await reader.readexactly(length)
                server.requests.append((head, body))
                answer = reply(len(server.requests))
                if not answer:
                    break
                writer.write(answer)
                await writer.drain()
                served += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def start() -> asyncio.Server:
        return await asyncio.start_server(handle, "127.0.0.1", 0)

    listening = loop.run_until_complete(start())
    server.url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"

    def run() -> None:
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait()
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(listening.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


async def _post_many(poster: Poster, url: str, count: int) -> list[Answer]:
    return [await poster.post(url, {"Content-Type": "application/json"}, b'{"n": %d}' % n) for n in range(count)]


def test_one_connection_carries_every_post_to_a_host() -> None:
    with http_server() as server:
        poster = Poster(allow_private=True)
        answers = asyncio.run(_post_many(poster, f"{server.url}/inbox", 5))
        assert [answer.status for answer in answers] == [202] * 5
        assert server.connections == 1  # httpx's client, as the worker used it, opened one per POST
        head, body = server.requests[0]
        assert head.startswith(b"POST /inbox HTTP/1.1\r\n") and b"\r\nHost: 127.0.0.1:" in head
        assert body == b'{"n": 0}'


def test_a_kept_alive_connection_the_server_closed_is_replaced() -> None:
    with http_server(close_after=1) as server:
        poster = Poster(allow_private=True)

        async def spaced() -> list[Answer]:
            first = await poster.post(f"{server.url}/inbox", {}, b"1")
            await asyncio.sleep(0.05)  # the server has closed it meanwhile, without a Connection: close
            return [first, await poster.post(f"{server.url}/inbox", {}, b"2")]

        assert [answer.status for answer in asyncio.run(spaced())] == [202, 202]
        assert server.connections == 2 and len(server.requests) == 2


def test_answers_chunked_closed_and_with_retry_after() -> None:
    answers = {
        1: b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        2: b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many\r\nRetry-After: 120\r\ncontent-length: 2\r\n\r\nno",
        3: b"HTTP/1.0 503 Busy\r\n\r\n",  # no length: the body runs to the close, the connection is not reused
    }
    with http_server(lambda n: answers.get(n, _keep_alive(n))) as server:
        poster = Poster(allow_private=True)
        got = asyncio.run(_post_many(poster, f"{server.url}/inbox", 4))
    assert got == [Answer(200), Answer(429, "120"), Answer(503), Answer(202)]
    assert server.connections == 2


def test_a_connection_closed_without_an_answer_is_an_error() -> None:
    with http_server(lambda n: b"") as server:
        with pytest.raises(PostError):
            asyncio.run(Poster(allow_private=True).post(f"{server.url}/inbox", {}, b"x"))


def test_garbage_instead_of_http_is_an_error() -> None:
    with http_server(lambda n: b"SSH-2.0-OpenSSH\r\n\r\n") as server:
        with pytest.raises(PostError, match="not an HTTP/1 answer"):
            asyncio.run(Poster(allow_private=True).post(f"{server.url}/inbox", {}, b"x"))


def test_the_guard_refuses_private_addresses_and_plain_http() -> None:
    poster = Poster(allow_private=False, resolver=lambda host, port: ["127.0.0.1"])
    with pytest.raises(Refused, match="non-public"):
        asyncio.run(poster.post("https://internal.example/inbox", {}, b"x"))
    with pytest.raises(Refused, match="plain http"):
        asyncio.run(poster.post("http://social.example/inbox", {}, b"x"))


def _followers(session: Session, url: str, count: int) -> None:
    session.add_all(
        Follower(actor=COURSE, follower=f"{url}/users/u{n}", inbox=f"{url}/users/u{n}/inbox") for n in range(count)
    )
    session.flush()


def test_the_job_reuses_connections_across_posts_and_batches(session: Session, settings: Settings) -> None:
    with http_server() as server:
        _followers(session, server.url, 3 * delivery.PER_HOST_BATCH)
        delivery.enqueue(
            session,
            {"id": f"{COURSE}#a", "type": "Announce", "actor": COURSE, "object": COURSE},
            COURSE,
            [f"{COURSE}/followers"],
        )
        session.commit()
        assert delivery.deliver_due() == 3 * delivery.PER_HOST_BATCH  # three batches: one host's share each
        assert len(server.requests) == 3 * delivery.PER_HOST_BATCH
        assert server.connections <= delivery.PER_HOST  # not one per POST
    assert {row.state for row in session.scalars(select(Delivery))} == {"done"}


def _statements_to_deliver(session: Session, url: str, followers: int) -> int:
    _followers(session, url, followers)
    delivery.enqueue(
        session,
        {"id": f"{COURSE}#n{followers}", "type": "Announce", "actor": COURSE, "object": COURSE},
        COURSE,
        [f"{COURSE}/followers"],
    )
    session.commit()
    count = 0

    def counted(*_: object) -> None:
        nonlocal count
        count += 1

    event.listen(get_engine(), "before_cursor_execute", counted)
    try:
        assert delivery.deliver_batch(session) >= followers  # the second also goes to the first's followers
    finally:
        event.remove(get_engine(), "before_cursor_execute", counted)
    return count


def test_outcomes_are_recorded_in_a_fixed_number_of_statements(session: Session, settings: Settings) -> None:
    signing_key(session, COURSE)  # the course's key is made once, before either count
    session.commit()
    with http_server() as small, http_server() as large:
        few = _statements_to_deliver(session, small.url, 3)
        many = _statements_to_deliver(session, large.url, 30)
    # One statement per recorded row (a host looked up per outcome) made this 30 more, not equal.
    assert many == few


def test_the_job_signs_in_threads_beside_the_event_loop(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RSA signing releases the GIL: the signer threads sign while the loop sends (issue 16)."""
    from federation.transport import presign

    signed_in: list[str] = []
    real = presign.sign_request

    def recording(*args: object, **kwargs: object) -> dict[str, str]:
        signed_in.append(threading.current_thread().name)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(presign, "sign_request", recording)
    with http_server() as server:
        _followers(session, server.url, 30)
        activity = {"id": f"{COURSE}#s", "type": "Announce", "actor": COURSE, "object": COURSE}
        delivery.enqueue(session, activity, COURSE, [f"{COURSE}/followers"])
        session.commit()
        assert delivery.deliver_due() == 30
        assert len(server.requests) == 30 and all(b"\r\nSignature: keyId=" in head for head, _ in server.requests)
    assert len(signed_in) == 30 and all(name.startswith("delivery-signer") for name in signed_in)


def _tls(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for `name`, and a client context trusting only it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    return server, client


@contextmanager
def tls_server(context: ssl.SSLContext) -> Iterator[tuple[int, list[str]]]:
    """An HTTPS server on 127.0.0.1 answering 202; the port and the SNI names it was asked for."""
    names: list[str] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name or "")  # type: ignore[assignment]
    loop = asyncio.new_event_loop()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        writer.close()

    listening = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0, ssl=context))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield listening.sockets[0].getsockname()[1], names
    finally:
        loop.call_soon_threadsafe(listening.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def test_https_is_pinned_to_the_checked_address_and_verifies_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from federation.transport import guard

    server_context, client_context = _tls(tmp_path, "inbox.example")
    # The guard judges 127.0.0.1 public here so that the pinned path (address checked, name kept
    # for SNI and the certificate) runs against a local server.
    monkeypatch.setattr(guard, "is_public", lambda address: True)
    looked_up: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"]

    with tls_server(server_context) as (port, names):
        poster = Poster(allow_private=False, resolver=resolver, ssl_context=client_context)
        answers = asyncio.run(_post_many(poster, f"https://inbox.example:{port}/inbox", 3))
        assert [answer.status for answer in answers] == [202, 202, 202]
        assert looked_up == ["inbox.example"] * 3 and names[0] == "inbox.example"
        # A name the certificate does not carry fails verification: no POST goes out unverified.
        other = Poster(allow_private=False, resolver=lambda host, port: ["127.0.0.1"], ssl_context=client_context)
        with pytest.raises(PostError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed|match"):
            asyncio.run(other.post(f"https://elsewhere.example:{port}/inbox", {}, b"x"))
