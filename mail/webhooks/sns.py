"""Amazon SNS messages: their signature checked with the signing certificate, subscriptions confirmed.

SNS signs the fields of each message (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) with the key
of a certificate at `SigningCertURL`. That URL must be https on an SNS host of amazonaws.com (TLS then
vouches that the certificate is Amazon's); it is fetched once, within the fetch deadline, and kept.
Only topics named in MECHMOOC_WEBHOOK_SES are believed: anyone can make a topic of their own that SNS
signs just as well.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from server.floor.config import get_settings

log = logging.getLogger("mechmooc.mail.webhooks")
_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_CERTIFICATE_BYTES = 64 * 1024
# The fields signed, in this order, for each message type (a field a message lacks is left out).
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


class Refused(Exception):
    """The message is not from SNS, or not for a topic of ours; the message says why (a 401)."""


class Unreachable(Exception):
    """A URL of SNS (the certificate, the subscription) did not answer as it should (a 502: SNS tries again)."""


def check_sns_url(url: str, field: str) -> str:
    """`url` when it is https on an SNS host of amazonaws.com (with MECHMOOC_INSECURE_HTTP, a loopback
    URL too: tests serve their certificate so); Refused otherwise."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and _SNS_HOST.match(host) and not parts.username and parts.port in (None, 443):
        return url
    if get_settings().insecure_http and parts.scheme in ("http", "https") and host in _LOOPBACK:
        return url
    raise Refused(f"{field} must be an https URL on an SNS host of amazonaws.com, not {url[:200]!r}")


def _get(url: str, limit: int) -> bytes:
    """GET `url` within the fetch deadline and `limit` bytes (no redirects: the host was checked);
    Unreachable when it answers otherwise."""
    deadline = get_settings().fetch_deadline
    started = time.monotonic()
    body = bytearray()
    with httpx.Client(timeout=deadline, follow_redirects=False) as client:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise Unreachable(f"{url[:200]} answered {response.status_code}")
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise Unreachable(f"{url[:200]} sent more than {limit} bytes")
                if time.monotonic() - started > deadline:
                    raise Unreachable(f"{url[:200]} did not answer in full within {deadline:g} s")
    return bytes(body)


@lru_cache(maxsize=32)
def signing_certificate(url: str) -> x509.Certificate:
    """The certificate at `url`, fetched once per process (SNS names a new URL when it changes keys)."""
    try:
        pem = _get(url, MAX_CERTIFICATE_BYTES)
    except httpx.HTTPError as error:
        raise Unreachable(f"the signing certificate could not be fetched: {type(error).__name__}") from None
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise Refused("SigningCertURL did not give a PEM certificate") from None


def string_to_sign(message: dict[str, Any]) -> bytes:
    """What SNS signed: each signed field's name and value on lines of their own."""
    fields = SIGNED_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise Refused(f"unknown SNS message type {str(message.get('Type'))[:50]!r}")
    lines = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue
            raise Refused(f"the SNS message lacks {name}")
        lines += [name, str(value)]
    return ("\n".join(lines) + "\n").encode()


def verify(message: dict[str, Any]) -> None:
    """Check the message's signature with its signing certificate and its topic; Refused otherwise."""
    version = str(message.get("SignatureVersion", ""))
    if version not in HASHES:
        raise Refused(f"SignatureVersion must be 1 or 2, not {version[:10]!r}")
    topic = str(message.get("TopicArn", ""))
    if topic not in get_settings().webhook_ses_topics:
        raise Refused(f"TopicArn {topic[:200]!r} is not one of MECHMOOC_WEBHOOK_SES")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise Refused("the Signature is not base64") from None
    data = string_to_sign(message)
    certificate = signing_certificate(check_sns_url(str(message.get("SigningCertURL", "")), "SigningCertURL"))
    if datetime.now(UTC) > certificate.not_valid_after_utc:
        raise Refused("the signing certificate has expired")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Refused("the signing certificate's key is not RSA")
    try:
        key.verify(signature, data, padding.PKCS1v15(), HASHES[version]())
    except InvalidSignature:
        raise Refused("the SNS signature does not match") from None


def confirm_subscription(message: dict[str, Any]) -> str:
    """A verified SubscriptionConfirmation: visit its SubscribeURL when MECHMOOC_WEBHOOK_SES_CONFIRM=1."""
    url = str(message.get("SubscribeURL", ""))
    topic = str(message.get("TopicArn", ""))
    if not get_settings().webhook_ses_confirm:
        log.warning(
            "SNS asks to confirm the subscription to %s: open %s (or set MECHMOOC_WEBHOOK_SES_CONFIRM=1)", topic, url
        )
        return "subscription not confirmed (MECHMOOC_WEBHOOK_SES_CONFIRM is off): the SubscribeURL is in the log"
    try:
        _get(check_sns_url(url, "SubscribeURL"), MAX_CERTIFICATE_BYTES)
    except httpx.HTTPError as error:
        raise Unreachable(f"the SubscribeURL could not be visited: {type(error).__name__}") from None
    log.info("confirmed the SNS subscription to %s", topic)
    return "subscription confirmed"
