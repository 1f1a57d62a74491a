"""The secrets of the mail providers' bounce and complaint webhooks, checked when the settings are read."""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from server.floor.errors import SettingsError

# arn:PARTITION:sns:REGION:ACCOUNT:TOPIC (aws, aws-cn, aws-us-gov ...).
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$")


def sendgrid_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The ECDSA public key of SendGrid's Signed Event Webhook: PEM, or the base64 text its settings page shows."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode())
        else:
            key = load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, TypeError):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SettingsError(
            "MECHMOOC_WEBHOOK_SENDGRID_KEY must be the verification key of SendGrid's Signed Event Webhook "
            "(the base64 text of its settings page, or PEM)"
        )
    return key


def sns_topics(value: str) -> tuple[str, ...]:
    """The SNS TopicArns whose SES notifications are believed, separated by commas or spaces."""
    topics = tuple(item for item in value.replace(",", " ").split() if item)
    wrong = [topic for topic in topics if not _TOPIC_ARN.match(topic)]
    if wrong:
        raise SettingsError(
            f"MECHMOOC_WEBHOOK_SES must be the ARNs of the SNS topics SES notifies (like "
            f"arn:aws:sns:eu-west-1:123456789012:ses-bounces), separated by commas; not {wrong[0]!r}"
        )
    return topics


def basic_credentials(value: str) -> str:
    """`user:password` for the HTTP Basic auth a webhook is configured with (Postmark)."""
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SettingsError("MECHMOOC_WEBHOOK_POSTMARK_AUTH must be user:password (the webhook URL's Basic auth)")
    return value
