"""Bounces and complaints: DSNs to a VERP address are parsed (flufl.bounce), SMTP refusals at send time
are classified; complaints suppress at once.

A mail bounces at most once of each kind: the VERP token names the mail as an Original-Envelope-Id
would, so the same DSN received three times (or a second notice of the same failure) counts once,
scores one soft bounce, and `stats` counts one bounce.
"""

from __future__ import annotations

import json
import re
from email.message import Message

from flufl.bounce import all_failures
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Enrollment
from mail.addresses import bare, bounce_token
from mail.leaving import leave_run
from mail.models import MailEvent, OutgoingMail
from mail.suppressions import soft_bounce, suppress
from mail.transport import Outcome
from server.floor.clock import now
from server.floor.errors import Invalid

HARD, SOFT, COMPLAINT = "bounce", "soft_bounce", "complaint"  # MailEvent kinds
# RFC 3463 enhanced status: class.subject.detail. Subjects 1 (address) and 2 (mailbox) are about the
# recipient; 7 (policy: relay denied, spam), 3, 4, 5, 6 are about the server, our setup or the content.
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
MAILBOX_FULL = ("5", "2", "2")
# Without an enhanced code, words that say the refusal is about us, not about the recipient.
_NOT_THE_ADDRESS = re.compile(r"relay|auth|spam|policy|blocked|blacklist|rate|too many", re.IGNORECASE)


def mail_by_token(session: Session, token: str) -> OutgoingMail | None:
    """The outbox row that carried `token`."""
    return session.scalar(select(OutgoingMail).where(OutgoingMail.token == token))


def _bounced(session: Session, mail_id: int, kind: str) -> bool:
    return (
        session.scalar(select(MailEvent.id).where(MailEvent.mail_id == mail_id, MailEvent.kind == kind).limit(1))
        is not None
    )


def record_bounce(session: Session, mail: OutgoingMail | tuple[int, str], kind: str, detail: str) -> bool:
    """Count a hard (`bounce`: suppress the address) or soft (`soft_bounce`: score it) bounce of a mail,
    given as a row or `(id, address)`, once per mail and kind; False when it was already counted."""
    mail_id, address = (mail.id, mail.to_addr) if isinstance(mail, OutgoingMail) else mail
    if _bounced(session, mail_id, kind):
        return False
    if kind == HARD:
        suppress(session, address, "hard_bounce", detail)
    else:
        soft_bounce(session, address, detail)
    session.add(MailEvent(mail_id=mail_id, kind=kind, email=address, detail=detail[:2000], created_at=now()))
    return True


def handle_bounce(session: Session, token: str, message: Message) -> str:
    """A DSN for the mail `token`: a hard bounce suppresses its address, a soft one is scored (once a mail)."""
    mail = mail_by_token(session, token)
    if mail is None:
        return "bounce: unknown token"
    temporary, permanent = all_failures(message)
    detail = ", ".join(sorted(a.decode("utf-8", "replace") for a in permanent | temporary))
    if permanent:
        kind = HARD
    elif temporary:
        kind = SOFT
    else:
        return "bounce: not a delivery failure"
    return kind if record_bounce(session, mail, kind, detail) else f"{kind}: already counted"


def refusal_bounce(outcome: Outcome, gave_up: bool) -> str | None:
    """What an SMTP refusal at send time means for the recipient: a hard bounce (a permanent refusal of
    the address or mailbox), a soft one (a temporary refusal until the retry window ended: `gave_up`),
    or None (no answer, or a refusal of our sender, our setup or the content: no fault of the address)."""
    if outcome.accepted or outcome.code is None or outcome.stage not in ("rcpt", "data"):
        return None
    message = outcome.detail.removeprefix(str(outcome.code)).strip()
    enhanced = _ENHANCED.match(message)
    if outcome.permanent:
        if enhanced:
            if enhanced.groups() == MAILBOX_FULL:
                return SOFT  # a full mailbox is refused "for good" but empties again
            return HARD if enhanced.group(1) == "5" and enhanced.group(2) in ("1", "2") else None
        # No enhanced code: a plain "550 no such user" at RCPT, unless it names relaying, auth or policy.
        if outcome.stage == "rcpt" and outcome.code in (550, 551, 553) and not _NOT_THE_ADDRESS.search(message):
            return HARD
        return None
    return SOFT if gave_up else None


def complaint(session: Session, body: bytes, message: Message | None = None) -> str:
    """A complaint webhook: JSON `{"email": ...}` or `{"token": ...}`, or an ARF report; the address suppressed."""
    mail: OutgoingMail | None = None
    address = ""
    if message is None:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise Invalid("complaint body must be JSON with an email or token, or an ARF message") from None
        if not isinstance(data, dict):
            raise Invalid("complaint body must be a JSON object")
        if data.get("token"):
            mail = mail_by_token(session, str(data["token"]))
        address = bare(str(data.get("email", ""))) or (mail.to_addr if mail else "")
    else:
        # An ARF report carries the original message, whose envelope sender is our VERP address.
        for part in message.walk():
            for header in ("Return-Path", "Original-Mail-From"):
                token = bounce_token(str(part.get(header, "")))
                mail = mail or (mail_by_token(session, token) if token else None)
            address = address or bare(str(part.get("Original-Rcpt-To", "")).split(";")[-1])
        address = mail.to_addr if mail else address
    if not address:
        raise Invalid("complaint names no address: give email, token, or an ARF report of one of our mails")
    record_complaint(session, mail, address)
    return address


def record_complaint(session: Session, mail: OutgoingMail | None, address: str, detail: str = "") -> bool:
    """A complaint (marked as spam): the address suppressed, its recipient out of the mail's run (counted as
    an unsubscribe too), once per mail; False when that mail's complaint was already counted."""
    suppress(session, address, "complaint", detail)
    if mail is not None:
        if _bounced(session, mail.id, COMPLAINT):
            return False
        enrollment = session.get(Enrollment, mail.enrollment_id) if mail.enrollment_id is not None else None
        if enrollment is not None and leave_run(session, enrollment):
            session.add(
                MailEvent(mail_id=mail.id, kind="unsubscribe", email=address, detail="complaint", created_at=now())
            )
    session.add(
        MailEvent(
            mail_id=mail.id if mail else None, kind=COMPLAINT, email=address, detail=detail[:2000], created_at=now()
        )
    )
    return True
