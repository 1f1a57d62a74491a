"""A provider's bounce or complaint, found among our mails and counted once, with a DSN's outcome."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mail.addresses import bare, bounce_token
from mail.bounces import COMPLAINT, HARD, SOFT, mail_by_token, record_bounce, record_complaint
from mail.models import InboundMessage, OutgoingMail
from server.floor.clock import now
from server.floor.db import write_scope

KINDS = (HARD, SOFT, COMPLAINT)
# A provider that names no mail of ours (Postmark) is matched to the recipient's last mail this recent.
RECENT = timedelta(days=30)
_MSGID = re.compile(r"<?([^<>\s]+@[^<>\s]+)>?")


@dataclass(frozen=True)
class ProviderEvent:
    """One bounce or complaint for one recipient, as a provider reported it."""

    provider: str
    event_id: str  # the provider's id of the event (deduplication), or a digest of it
    kind: str  # HARD, SOFT or COMPLAINT
    recipient: str
    message_id: str = ""  # the Message-ID header of the mail, when the provider passes it on
    envelope_sender: str = ""  # the MAIL FROM the mail was sent with (our VERP address)
    detail: str = ""

    @property
    def key(self) -> str:
        """The row this event is recorded under in `mail_inbound` (one per event and recipient)."""
        return f"webhook:{self.provider}:{self.event_id}:{self.recipient}"[:500]


def digest(data: Any) -> str:
    """A stable id for an event that carries none of its own."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]


def message_id_of(value: Any) -> str:
    """`<id@host>` from a header value with or without its angle brackets ('' when it is none)."""
    match = _MSGID.search(str(value or ""))
    return f"<{match.group(1)}>" if match else ""


def find_mail(session: Session, event: ProviderEvent) -> OutgoingMail | None:
    """The mail of ours the event is about: by the VERP token of its envelope sender, by its Message-ID
    and recipient (a relay's Message-ID is shared by every member), else the recipient's last mail."""
    token = bounce_token(event.envelope_sender) if event.envelope_sender else None
    if token and (mail := mail_by_token(session, token)) is not None and mail.to_addr.lower() == event.recipient:
        return mail
    recipient = OutgoingMail.to_addr == event.recipient
    if event.message_id:
        mail = session.scalar(
            select(OutgoingMail)
            .where(OutgoingMail.message_id == event.message_id, recipient)
            .order_by(OutgoingMail.id.desc())
        )
        if mail is not None:
            return mail
    return session.scalar(
        select(OutgoingMail)
        .where(recipient, OutgoingMail.sent_at.is_not(None), OutgoingMail.sent_at >= now() - RECENT)
        .order_by(OutgoingMail.sent_at.desc(), OutgoingMail.id.desc())
        .limit(1)
    )


def apply(session: Session, event: ProviderEvent) -> str:
    """Record `event` once (the same event again is a duplicate) and give it a DSN's outcome; the outcome."""
    if session.scalar(select(InboundMessage.id).where(InboundMessage.message_id == event.key)) is not None:
        return "duplicate"
    mail = find_mail(session, event)
    if mail is None:
        outcome = "not one of our mails"
    elif event.kind == COMPLAINT:
        outcome = COMPLAINT if record_complaint(session, mail, event.recipient, event.detail) else "already counted"
    else:
        outcome = event.kind if record_bounce(session, mail, event.kind, event.detail) else "already counted"
    session.add(
        InboundMessage(
            message_id=event.key,
            recipient=event.recipient,
            sender=event.provider,
            outcome=f"{event.kind}: {outcome}"[:200],
            raw=event.detail[:2000],
            received_at=now(),
        )
    )
    return outcome


def record_events(events: list[ProviderEvent]) -> list[str]:
    """Apply each event in one transaction (the write lock at once on SQLite); an outcome per event."""
    try:
        with write_scope() as session:
            return [apply(session, event) for event in events]
    except IntegrityError:
        # Another request recorded the same event at the same moment (PostgreSQL): it counted; this one
        # is a duplicate, and whatever else came with it is tried one by one.
        outcomes = []
        for event in events:
            try:
                with write_scope() as session:
                    outcomes.append(apply(session, event))
            except IntegrityError:
                outcomes.append("duplicate")
        return outcomes


def normal(address: Any) -> str:
    """An address as the outbox stores it: the bare addr-spec, lower-cased ('' for anything else)."""
    if not isinstance(address, str):
        return ""
    found = bare(address)
    return found if "@" in found.strip("@") else ""
