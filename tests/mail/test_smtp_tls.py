"""Sending through an SMTP server that demands STARTTLS and a login, as MECHMOOC_SMTP_URL describes it."""

from __future__ import annotations

import ssl
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.orm import Session

from mail.outbox import queue_system_mail
from mail.sender import send_all
from server.floor.config import use_settings
from server.floor.settings import Settings
from tests.support.smtp import free_port


def self_signed(directory: Path) -> ssl.SSLContext:
    """A TLS context with a fresh self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


class Keeper:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bool]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos[0], session.ssl is not None))
        return "250 OK"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"course", b"s3cret")
    return AuthResult(success=ok)


def test_starttls_and_login_from_the_smtp_url(session: Session, settings: Settings, tmp_path: Path) -> None:
    keeper, port = Keeper(), free_port()
    controller = Controller(
        keeper,
        hostname="127.0.0.1",
        port=port,
        tls_context=self_signed(tmp_path),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        use_settings(replace(settings, smtp_url=f"smtp://course:wrong@127.0.0.1:{port}?starttls=1&verify=0&timeout=2"))
        row = queue_system_mail(session, "ann@example.org", "Hello", "text")
        session.commit()
        report = send_all(session)
        # A wrong password is the server's or the settings' problem: the mail waits, it does not fail.
        assert (report.sent, report.retried, report.failed) == (0, 1, 0) and "connection" in report.errors[0]
        use_settings(replace(settings, smtp_url=f"smtp://course:s3cret@127.0.0.1:{port}?starttls=1&verify=0"))
        row.next_attempt_at = datetime.now(UTC)
        session.merge(row)
        session.commit()
        assert send_all(session).sent == 1
        assert keeper.messages == [("ann@example.org", True)]
    finally:
        controller.stop()
        use_settings(settings)
