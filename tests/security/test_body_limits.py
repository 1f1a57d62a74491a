"""Request bodies are limited while they stream in, never read whole first.

The attack: a 400 MB signup body grew the server to 900 MB (the whole body was read, then the CSRF
middleware buffered up to 32 MB more). Now a declared Content-Length over the path's limit is
answered 413 before the body is read, and a chunked body is cut off with 413 as soon as it passes
the limit: in both tests below the server answers while the client has sent a small part.
"""

from __future__ import annotations

import re
import select
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from courses.folder import import_course
from courses.runs import create_run
from server.floor.db import session_scope
from server.floor.settings import Settings
from tests.security.live import form_token, served
from tests.web.coursepages import GENTLE, start_in
from web.limits import MB

CLAIMED = 400 * MB
PIECE = 64 * 1024


@pytest.fixture
def live(settings: Settings) -> Iterator[tuple[str, str]]:
    """The app on a real port with gentle-python's open run: (base URL, run handle)."""
    with session_scope() as db:
        run = create_run(db, import_course(db, GENTLE), start_in(14), "Europe/Paris").handle
    with served(settings) as url:
        yield url, run


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def answer_while_sending(sock: socket.socket, head: bytes, pieces: Iterator[bytes]) -> tuple[bytes, int]:
    """Send `head`, then pieces until the server answers; (the answer, body bytes sent by then)."""
    sock.sendall(head)
    sent = 0
    for piece in pieces:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
    answer = b""
    while not complete(answer):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer, sent


def complete(answer: bytes) -> bool:
    """True once `answer` holds the headers and as much body as its Content-Length says."""
    head, found, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return bool(found and length and len(body) >= int(length.group(1)))


def zeros(total: int, chunked: bool = False) -> Iterator[bytes]:
    """`total` bytes of a form field's value, as plain pieces or as HTTP/1.1 chunks."""
    for _ in range(total // PIECE):
        piece = b"a" * PIECE
        yield b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece


def test_a_huge_declared_signup_body_is_refused_before_it_is_read(live: tuple[str, str]) -> None:
    url, run = live
    # The signup API (CORS, no session, so no CSRF check stops it first) read the whole body.
    head = (
        f"POST /api/runs/{run}/signup HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {CLAIMED}\r\n\r\n"
    ).encode()
    with connect(url) as sock:
        answer, sent = answer_while_sending(sock, head, zeros(CLAIMED))
    assert sent < 8 * MB  # the server answered without waiting for (or keeping) the 400 MB
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"larger than 64 KB" in answer


def test_a_chunked_form_is_cut_off_once_it_passes_the_limit(live: tuple[str, str]) -> None:
    url, run = live
    # A real visitor's session and token, so that the CSRF middleware parses the streamed form.
    with httpx.Client(base_url=url) as browser:
        token = form_token(browser, f"/runs/{run}")
        cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    head = (
        f"POST /runs/{run}/signup HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"{len(token) + 12:x}\r\ncsrf_token={token}&\r\n"
    ).encode()
    with connect(url) as sock:
        answer, sent = answer_while_sending(sock, head, zeros(CLAIMED, chunked=True))
    assert sent < 8 * MB
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"larger than 1 MB" in answer


def test_a_chunked_activity_is_cut_off_with_a_json_413(live: tuple[str, str]) -> None:
    url, _run = live
    head = (
        b"POST /inbox HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/activity+json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    with connect(url) as sock:
        answer, sent = answer_while_sending(sock, head, zeros(CLAIMED, chunked=True))
    assert sent < 8 * MB
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b'{"error":' in answer


def test_form_parsing_has_explicit_limits(live: tuple[str, str]) -> None:
    url, run = live
    with httpx.Client(base_url=url) as browser:
        token = form_token(browser, f"/runs/{run}")
        fields = {f"f{n}": "x" for n in range(1001)} | {"csrf_token": token}
        response = browser.post(f"/runs/{run}/signup", data=fields)
    assert response.status_code == 400
    assert "Too many fields" in response.text
