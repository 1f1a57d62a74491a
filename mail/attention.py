"""Mails a fault left for a person: the uncertain (a worker died between SMTP and recording; after the
retry window they are no longer sent again by themselves) and the failed. Listed page by page, counted,
sent again or marked sent in bulk (`mechmooc mail ...`, /admin/mail, /healthz)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.parser import HeaderParser
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mail.models import UNCERTAIN, OutgoingMail
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound
from server.floor.queue import DONE, FAILED, QUEUED

STATES = (UNCERTAIN, FAILED)
PAGE = 100


@dataclass(frozen=True)
class MailView:
    """One mail that needs a person, as the command line and the admin page show it."""

    id: int
    state: str
    kind: str
    to: str
    subject: str
    message_id: str
    created_at: datetime
    sending_at: datetime | None
    attempts: int
    error: str

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values (instants in ISO 8601)."""
        return {
            **{name: getattr(self, name) for name in ("id", "state", "kind", "to", "subject", "message_id")},
            "created_at": self.created_at.isoformat(),
            "sending_at": self.sending_at.isoformat() if self.sending_at else None,
            "attempts": self.attempts,
            "error": self.error,
        }


def counts(session: Session) -> dict[str, int]:
    """How many mails are uncertain and how many failed (zeros included)."""
    found = dict(
        session.execute(
            select(OutgoingMail.state, func.count()).where(OutgoingMail.state.in_(STATES)).group_by(OutgoingMail.state)
        ).all()
    )
    return {state: int(found.get(state, 0)) for state in STATES}


def _message_id(row: OutgoingMail) -> str:
    # Rows from before the column was written carry it only in their stored headers.
    if row.message_id:
        return row.message_id
    return str(HeaderParser().parsestr(row.message, headersonly=True).get("Message-ID", "")).strip()


def listing(
    session: Session, states: Sequence[str] = STATES, before: int | None = None, limit: int = PAGE
) -> list[MailView]:
    """The newest mails in `states` with an id below `before` (a cursor: the last id of the previous page)."""
    unknown = set(states) - set(STATES)
    if unknown:
        raise Invalid(f"state must be {' or '.join(STATES)}, not {sorted(unknown)[0]!r}")
    query = select(OutgoingMail).where(OutgoingMail.state.in_(list(states)))
    if before is not None:
        query = query.where(OutgoingMail.id < before)
    rows = session.scalars(query.order_by(OutgoingMail.id.desc()).limit(limit))
    return [
        MailView(
            id=row.id,
            state=row.state,
            kind=row.kind,
            to=row.to_addr,
            subject=row.subject,
            message_id=_message_id(row),
            created_at=row.created_at,
            sending_at=row.sending_at,
            attempts=row.attempts,
            error=row.last_error or "",
        )
        for row in rows
    ]


def _chosen(session: Session, ids: Sequence[int], all_uncertain: bool, allowed: tuple[str, ...], doing: str) -> Any:
    """The WHERE clause of a bulk action on `ids` (all checked first: all or nothing) or every uncertain mail."""
    if bool(ids) == all_uncertain:
        raise Invalid("give the ids of the mails or --all-uncertain (one of the two)")
    if all_uncertain:
        return OutgoingMail.state == UNCERTAIN
    states = dict(session.execute(select(OutgoingMail.id, OutgoingMail.state).where(OutgoingMail.id.in_(ids))).all())
    for mail_id in ids:
        if mail_id not in states:
            raise NotFound(f"no outgoing mail {mail_id}")
        if states[mail_id] not in allowed:
            raise Invalid(f"mail {mail_id} is {states[mail_id]}: only {' or '.join(allowed)} mails are {doing}")
    return OutgoingMail.id.in_(ids) & OutgoingMail.state.in_(allowed)


def resend(session: Session, ids: Sequence[int] = (), all_uncertain: bool = False) -> int:
    """Queue uncertain or failed mails again (the same bytes, the same Message-ID); how many (not committed)."""
    where = _chosen(session, ids, all_uncertain, STATES, "sent again")
    result = session.execute(
        update(OutgoingMail)
        .where(where)
        .values(state=QUEUED, sending_at=None, locked_until=None, next_attempt_at=now(), last_error=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_sent(session: Session, ids: Sequence[int] = (), all_uncertain: bool = False) -> int:
    """Record uncertain mails as sent (a person knows they arrived); how many (not committed)."""
    where = _chosen(session, ids, all_uncertain, (UNCERTAIN,), "marked sent")
    result = session.execute(
        update(OutgoingMail)
        .where(where)
        .values(
            state=DONE,
            sent_at=func.coalesce(OutgoingMail.sending_at, now()),
            sending_at=None,
            locked_until=None,
            last_error=None,
            smtp_response="marked sent by an operator",
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
