"""Writing RFC 5322 / MIME text fast: the stdlib's EmailMessage spends milliseconds per mail on header objects.

Headers are written as given when they are ASCII and encoded words (RFC 2047, via email.header)
otherwise; bodies are UTF-8 in quoted-printable, by the C encoder of binascii.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Sequence
from email.header import Header
from email.utils import format_datetime, formataddr

from server.floor.clock import now

Headers = Sequence[tuple[str, str]]


def header_value(value: str) -> str:
    """`value` as it may stand in a header: unchanged if ASCII, else an encoded word."""
    value = " ".join(value.split())
    if value.isascii():
        return value
    return Header(value, "utf-8").encode()


def address(name: str, addr: str) -> str:
    """A mailbox header value `Name <addr>`, the name quoted or encoded as needed."""
    return formataddr((" ".join(name.split()), addr), charset="utf-8")


def date_header() -> str:
    """The Date header value for now (the injectable clock)."""
    return format_datetime(now())


def _part(subtype: str, body: str) -> str:
    encoded = binascii.b2a_qp(body.replace("\r\n", "\n").encode("utf-8"), istext=True).decode("ascii")
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
