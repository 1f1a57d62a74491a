"""DKIM signing: dkimpy's header with OpenSSL's RSA verifies with dkimpy, and equals dkimpy's own signature;
mails are signed when queued and arrive verifiable."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import dkim
import dkim.crypto
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session

from mail.dkim import Signer
from mail.outbox import queue_system_mail
from mail.sender import send_all
from server.floor.config import use_settings
from server.floor.settings import Settings
from tests.support.smtp import SmtpSink

MESSAGE = (
    b"From: Course <noreply@example.org>\r\nTo: ann@example.org\r\nSubject: Week 1\r\n"
    b"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <abc@example.org>\r\n\r\nHello Ann,\r\nthis is week 1.\r\n"
)


def test_signature_verifies_and_matches_the_pure_python_rsa() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + __import__("base64").b64encode(public)
    signed = Signer("example.org", "mail", pem).sign(MESSAGE)
    assert signed.startswith(b"DKIM-Signature: ") and signed.endswith(MESSAGE)
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: record)
    parsed = dkim.crypto.parse_pem_private_key(pem)
    digest = __import__("hashlib").sha256(b"some header bytes")
    assert dkim.RSASSA_PKCS1_v1_5_sign(digest, parsed) == dkim.crypto.RSASSA_PKCS1_v1_5_sign(digest, parsed)
    tampered = signed.replace(b"this is week 1", b"this is week 2")
    assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record)


def test_a_mail_is_signed_when_queued_and_arrives_verifiable(
    session: Session, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "dkim.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    unsigned = queue_system_mail(session, "ann@example.org", "Queued before the key", "Hello")
    session.commit()
    configured = replace(settings, smtp_url=smtp_sink.url, dkim_selector="mail", dkim_key=str(pem))
    use_settings(configured)
    try:
        row = queue_system_mail(session, "bob@example.org", "Reset your password", "Ünïcode text, too")
        session.commit()
        assert row.message.startswith("DKIM-Signature: ")  # signed when queued, not when sent
        assert not unsigned.message.startswith("DKIM-Signature")
        assert send_all(session).sent == 2
    finally:
        use_settings(settings)
    for address in ("ann@example.org", "bob@example.org"):  # the one queued earlier is signed when sent
        [received] = smtp_sink.to(address)
        assert received.data.count(b"DKIM-Signature:") == 1
        assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record)
