"""What the provider webhook tests need: the documented payloads, signed as each provider signs them with
keys made here, and a local stand-in for SNS's certificate and subscription URLs."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:mechmooc-ses"


def fixture(name: str) -> Any:
    """A documented payload (a fresh copy each time)."""
    return copy.deepcopy(json.loads((FIXTURES / name).read_text()))


class SnsStandIn:
    """An RSA key, its certificate served over loopback HTTP (MECHMOOC_INSECURE_HTTP lets tests use it),
    and a subscription URL that counts its visits."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.eu-west-1.amazonaws.com")])
        moment = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(moment - timedelta(days=1))
            .not_valid_after(moment + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        self.hits: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                stand_in.hits.append(self.path)
                body = stand_in.pem if self.path.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def cert_url(self) -> str:
        """Where the certificate is served."""
        return f"{self.base}/SimpleNotificationService-test.pem"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def sign(
        self,
        message: dict[str, Any],
        version: str = "2",
        key: rsa.RSAPrivateKey | None = None,
        cert_url: str | None = None,
    ) -> dict[str, Any]:
        """`message` signed as SNS signs (the documented fields, name and value on lines of their own),
        pointing at this stand-in's certificate unless `cert_url` says otherwise."""
        message = {**message, "SignatureVersion": version, "SigningCertURL": cert_url or self.cert_url}
        if message["Type"] == "Notification":
            names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        else:
            names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        text = "".join(f"{name}\n{message[name]}\n" for name in names if message.get(name) is not None)
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = (key or self.key).sign(text.encode(), padding.PKCS1v15(), digest)
        message["Signature"] = base64.b64encode(signature).decode()
        return message


def sns_notification(ses_message: dict[str, Any], message_id: str = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324") -> dict:
    """The documented SNS Notification carrying `ses_message` for our topic."""
    envelope = fixture("sns_notification.json")
    envelope.update(TopicArn=TOPIC, MessageId=message_id, Message=json.dumps(ses_message))
    envelope.pop("Subject")  # SES notifications come without one
    return envelope


def mailgun_signed(payload: dict[str, Any], key: str, timestamp: int) -> dict[str, Any]:
    """A Mailgun payload with a fresh `signature` object for `key`."""
    token = hashlib.sha256(f"{timestamp}{json.dumps(payload, sort_keys=True)}".encode()).hexdigest()[:50]
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {**payload, "signature": {"timestamp": str(timestamp), "token": token, "signature": signature}}


class SendGridKey:
    """A P-256 key pair as SendGrid makes one for a Signed Event Webhook."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_text = base64.b64encode(der).decode()  # what SendGrid's settings page shows

    def headers(self, body: bytes, timestamp: str = "1700000000") -> dict[str, str]:
        """The two headers SendGrid sends with `body`."""
        signature = self.private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        }


def basic(credentials: str) -> dict[str, str]:
    """The Authorization header of HTTP Basic `user:password`."""
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def stand_in() -> Iterator[SnsStandIn]:
    """A running SnsStandIn, closed afterwards (wrap as a fixture)."""
    sns = SnsStandIn()
    try:
        yield sns
    finally:
        sns.close()
