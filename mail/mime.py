"""Writing RFC 5322 / MIME text fast: the stdlib's EmailMessage spends milliseconds per mail on header objects.

Headers are written as given when they are ASCII and encoded words (RFC 2047, via email.header)
otherwise; bodies are UTF-8 in quoted-printable, by the C encoder of binascii.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Sequence
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from functools import lru_cache

from server.floor.clock import now

Headers = Sequence[tuple[str, str]]


def header_value(value: str) -> str:
    """`value` as it may stand in a header: unchanged if ASCII, else an encoded word."""
    value = " ".join(value.split())
    if value.isascii():
        return value
    return Header(value, "utf-8").encode()


@lru_cache(maxsize=1024)  # a course's sender is the same on thousands of mails
def address(name: str, addr: str) -> str:
    """A mailbox header value `Name <addr>`, the name quoted or encoded as needed."""
    return formataddr((" ".join(name.split()), addr), charset="utf-8")


def date_header() -> str:
    """The Date header value for now (the injectable clock)."""
    return _date(now().replace(microsecond=0))


@lru_cache(maxsize=4)  # to the second, as the header says: the mails of one second share it
def _date(instant: datetime) -> str:
    return format_datetime(instant)


# Quoted-printable encodes each line by itself (a line's soft breaks and trailing blanks depend on that
# line alone), so the lines of a course text that every learner's mail shares are encoded once; what
# comes out is what binascii makes of the whole body (tests/mail/test_fast_render.py compares them).
_QP_LINES: dict[str, str] = {}
QP_CACHE = 4096  # lines kept; the cache starts again when full (learner-specific lines fill it)


def quoted_printable(body: str) -> str:
    """`body` (LF line ends) as UTF-8 quoted-printable, the same as `binascii.b2a_qp(..., istext=True)`."""
    if "\r" in body:
        return binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii")
    # Each line with its line end (a blank before it is encoded otherwise than one ending the text);
    # the last one, with none, as it stands.
    *lines, last = body.split("\n")
    encoded = []
    for line in lines:
        known = _QP_LINES.get(line)
        if known is None:
            if len(_QP_LINES) >= QP_CACHE:
                _QP_LINES.clear()
            known = _QP_LINES[line] = binascii.b2a_qp(f"{line}\n".encode(), istext=True).decode("ascii")
        encoded.append(known)
    encoded.append(binascii.b2a_qp(last.encode("utf-8"), istext=True).decode("ascii"))
    return "".join(encoded)


def _part(subtype: str, body: str) -> str:
    encoded = quoted_printable(body.replace("\r\n", "\n"))
    return f'Content-Type: text/{subtype}; charset="utf-8"\nContent-Transfer-Encoding: quoted-printable\n\n{encoded}'


def compose(headers: Headers, text: str, html: str | None = None) -> str:
    """A whole message (LF line ends): the headers, then text, or text and HTML as multipart/alternative."""
    head = "".join(
        f"{name}: {header_value(value) if name not in ADDRESS_HEADERS else value}\n" for name, value in headers
    )
    head += "MIME-Version: 1.0\n"
    if html is None:
        return head + _part("plain", text) + "\n"
    boundary = "=_" + secrets.token_hex(12)
    return (
        f'{head}Content-Type: multipart/alternative; boundary="{boundary}"\n\n'
        f"--{boundary}\n{_part('plain', text)}\n--{boundary}\n{_part('html', html)}\n--{boundary}--\n"
    )


# Already formatted by `address()` (or plain addresses): encoding them whole would break the addr-spec.
ADDRESS_HEADERS = frozenset({"From", "To", "Cc", "Reply-To", "Sender"})
