"""Transactional mails (password resets) queued by other packages through `queue_system_mail`."""

from __future__ import annotations

import email

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mail.addresses import verp
from mail.models import OutgoingMail
from mail.outbox import queue_system_mail
from server.floor.errors import Invalid


def test_system_mail_is_a_queued_row_with_text_and_html(session: Session) -> None:
    row = queue_system_mail(session, "Ann <Ann@Example.org>", "Reset your password", "Open this link", "<p>Open</p>")
    session.commit()
    stored = session.scalars(select(OutgoingMail)).one()
    assert stored.id == row.id and stored.state == "queued" and stored.kind == "system"
    assert stored.to_addr == "ann@example.org"
    assert stored.envelope_from == verp(stored.token) and stored.envelope_from.startswith(f"bounces+{stored.token}-")
    parsed = email.message_from_string(stored.message)
    assert parsed["Subject"] == "Reset your password"
    # The Message-ID names the mail (kept on the row to match replies) but reveals no token.
    assert parsed["Message-ID"] == stored.message_id and stored.token not in stored.message_id
    assert [part.get_content_type() for part in parsed.walk()][1:] == ["text/plain", "text/html"]
    assert "List-Unsubscribe" not in parsed


def test_system_mail_refuses_a_non_address(session: Session) -> None:
    with pytest.raises(Invalid, match="not an email address: 'nobody'"):
        queue_system_mail(session, "nobody", "Hi", "text")
    assert session.scalars(select(OutgoingMail)).all() == []
