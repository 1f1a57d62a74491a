"""Optional DKIM signing of outgoing mail (dkimpy with OpenSSL's RSA), done when a mail is queued.

Signing costs about 1.3 ms a mail here (RSA-2048 alone 0.7 ms), three times a plain SMTP transaction to
a local server; done when the mail is queued (unit mails: up to ten minutes before they are due), it
stays off the send path. A mail queued before a key was configured is signed when it is sent."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from server.floor.errors import SettingsError
from server.floor.settings import Settings

SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-id", b"list-unsubscribe"]


@lru_cache(maxsize=4)
def _openssl_key(
    modulus: int, public_exponent: int, private_exponent: int, p: int, q: int, dmp1: int, dmq1: int, iqmp: int
) -> rsa.RSAPrivateKey:
    public = rsa.RSAPublicNumbers(public_exponent, modulus)
    return rsa.RSAPrivateNumbers(p, q, private_exponent, dmp1, dmq1, iqmp, public).private_key()


def _rsa_sign(digest: Any, key: dict[str, int]) -> bytes:
    """RSASSA-PKCS1-v1_5 over dkimpy's digest, by OpenSSL (the `cryptography` package)."""
    value = digest.digest()
    algorithm = hashes.SHA256() if len(value) == 32 else hashes.SHA1()  # noqa: S303 - rsa-sha1 verify only
    private = _openssl_key(
        key["modulus"],
        key["publicExponent"],
        key["privateExponent"],
        key["prime1"],
        key["prime2"],
        key["exponent1"],
        key["exponent2"],
        key["coefficient"],
    )
    return private.sign(value, padding.PKCS1v15(), utils.Prehashed(algorithm))


@lru_cache(maxsize=1)
def dkimpy() -> ModuleType:
    """dkimpy, imported when a mail is first signed (it and dnspython weigh ~10 MB in every process).

    dkimpy canonicalizes and builds the header, but does the RSA step in pure Python (about 20-70 ms a
    mail here, which would cap sending near 15-50 mails/s). Its module-level RSA function is swapped for
    OpenSSL's; the signature is the same bytes (PKCS#1 v1.5 is deterministic), see tests/mail/test_dkim.py."""
    import dkim

    dkim.RSASSA_PKCS1_v1_5_sign = _rsa_sign
    return dkim


class Signer:
    """Signs messages for one domain with one selector and private key."""

    def __init__(self, domain: str, selector: str, private_key: bytes) -> None:
        self.domain = domain.encode()
        self.selector = selector.encode()
        self.private_key = private_key

    def sign(self, data: bytes) -> bytes:
        """`data` with a DKIM-Signature header in front."""
        header = dkimpy().sign(
            data, self.selector, self.domain, self.private_key, include_headers=SIGNED_HEADERS, linesep=b"\r\n"
        )
        return header + data


def signer_from_settings(settings: Settings) -> Signer | None:
    """A Signer when MECHMOOC_DKIM_SELECTOR and MECHMOOC_DKIM_KEY (a PEM file or PEM text) are set."""
    if not settings.dkim_selector or not settings.dkim_key:
        return None
    domain = settings.mail_from.rpartition("@")[2] or settings.mail_domain
    return _signer(domain, settings.dkim_selector, settings.dkim_key)


@lru_cache(maxsize=4)
def _signer(domain: str, selector: str, raw: str) -> Signer:
    # Read once per process and configuration: every queued mail is signed.
    if "-----BEGIN" in raw:
        key = raw.encode()
    else:
        try:
            key = Path(raw).read_bytes()
        except OSError as error:
            raise SettingsError(f"MECHMOOC_DKIM_KEY {raw}: {error.strerror}") from None
    return Signer(domain, selector, key)


def wire_bytes(message: str) -> bytes:
    """The stored message as it goes on the wire: CRLF line ends, UTF-8."""
    return message.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def signed(message: str, signer: Signer | None) -> str:
    """`message` DKIM-signed (CRLF line ends) when a signer is configured and it is not signed yet."""
    if signer is None or not message or message.startswith("DKIM-Signature:"):
        return message
    return signer.sign(wire_bytes(message)).decode("utf-8")
