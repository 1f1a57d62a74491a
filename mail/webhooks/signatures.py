"""How Mailgun, Postmark and SendGrid prove a webhook request is theirs, each as it documents.

- Mailgun: `signature.signature` is the hex HMAC-SHA256 of `timestamp + token` with the webhook
  signing key; a timestamp far from now is refused (a captured request cannot be replayed later).
- Postmark: the HTTP Basic credentials put in the webhook's URL, compared in constant time.
- SendGrid (Signed Event Webhook): `X-Twilio-Email-Event-Webhook-Signature` is a base64 ECDSA
  (P-256, SHA-256) signature of `X-Twilio-Email-Event-Webhook-Timestamp` followed by the raw body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from server.floor.clock import now
from server.floor.webhook_keys import sendgrid_public_key

# Mailgun's timestamp may be this far from our clock (either way), in seconds.
MAILGUN_TOLERANCE = 15 * 60
SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


def mailgun_problem(key: str, signature: Any) -> str | None:
    """Why Mailgun's `signature` object does not prove the request (None when it does)."""
    if not isinstance(signature, dict):
        return "no signature object"
    timestamp, token, given = (str(signature.get(name, "")) for name in ("timestamp", "token", "signature"))
    if not timestamp.isdigit() or not token or not given:
        return "signature needs timestamp, token and signature"
    expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        return "the signature does not match"
    if abs(now().timestamp() - int(timestamp)) > MAILGUN_TOLERANCE:
        return f"the timestamp is more than {MAILGUN_TOLERANCE // 60} minutes away from now"
    return None


def basic_auth_ok(configured: str, header: str) -> bool:
    """True when the Authorization header carries exactly the configured `user:password`."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, configured.encode())


def sendgrid_ok(key_text: str, signature: str, timestamp: str, body: bytes) -> bool:
    """True when SendGrid's ECDSA `signature` covers `timestamp` and the raw `body`."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        sendgrid_public_key(key_text).verify(raw, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
