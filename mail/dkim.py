"""Optional DKIM signing of outgoing mail (dkimpy), with the key read once per pass."""

from __future__ import annotations

from pathlib import Path

import dkim

from server.errors import SettingsError
from server.settings import Settings

SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-id", b"list-unsubscribe"]


class Signer:
    """Signs messages for one domain with one selector and private key."""

    def __init__(self, domain: str, selector: str, private_key: bytes) -> None:
        self.domain = domain.encode()
        self.selector = selector.encode()
        self.private_key = private_key

    def sign(self, data: bytes) -> bytes:
        """`data` with a DKIM-Signature header in front."""
        header = dkim.sign(
            data, self.selector, self.domain, self.private_key, include_headers=SIGNED_HEADERS, linesep=b"\r\n"
        )
        return header + data


def signer_from_settings(settings: Settings) -> Signer | None:
    """A Signer when MECHMOOC_DKIM_SELECTOR and MECHMOOC_DKIM_KEY (a PEM file or PEM text) are set."""
    if not settings.dkim_selector or not settings.dkim_key:
        return None
    raw = settings.dkim_key
    if "-----BEGIN" in raw:
        key = raw.encode()
    else:
        try:
            key = Path(raw).read_bytes()
        except OSError as error:
            raise SettingsError(f"MECHMOOC_DKIM_KEY {raw}: {error.strerror}") from None
    domain = settings.mail_from.rpartition("@")[2] or settings.mail_domain
    return Signer(domain, settings.dkim_selector, key)
