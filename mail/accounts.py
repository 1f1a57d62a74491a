"""Mails about a person's account: the sign-up's confirmation link and the moderators' decision
(events of `community.registrations`). Transactional mails through the system outbox, like the
password reset; the link itself is made here from the account id, so no secret sits in the events table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from community import registrations
from mail.outbox import queue_system_mail
from mail.suppressions import suppressed
from server.floor.accounts import Account
from server.floor.instance import instance_info
from server.floor.urls import absolute

CONFIRM_TEXT = """Hello {name},

Someone (we hope you) signed up as @{handle} on {instance}. To confirm that this address is yours, open:

{link}

The link works once, for {days} days. {after}

If it was not you, ignore this mail: without the confirmation nothing happens, and the sign-up is
forgotten after {days} days.
"""


def _account(session: Session, payload: dict[str, Any]) -> Account | None:
    return session.get(Account, int(payload["account_id"]))


def on_registration_created(session: Session, payload: dict[str, Any]) -> None:
    """Mail the confirmation link of a new sign-up (even to a suppressed address: the person asked for it)."""
    account = _account(session, payload)
    registration = registrations.registration_of(session, int(payload["account_id"]))
    if account is None or registration is None:
        return
    after = (
        "A moderator then reads your sign-up; we mail you when it is approved."
        if registration.state == "pending"
        else "Then you can log in."
    )
    text = CONFIRM_TEXT.format(
        name=account.display_name or account.handle,
        handle=account.handle,
        instance=instance_info(session)["name"],
        link=registrations.confirmation_url(account.id),
        days=registrations.CONFIRM_LIFETIME.days,
        after=after,
    )
    queue_system_mail(session, to=account.email, subject="Confirm your address", text=text)


def _decision(session: Session, payload: dict[str, Any], approved: bool) -> None:
    account = _account(session, payload)
    if account is None or suppressed(session, [account.email]):
        return
    name = instance_info(session)["name"]
    if approved:
        subject = f"Welcome to {name}"
        text = f"Hello {account.display_name or account.handle},\n\nYour sign-up as @{account.handle} was approved: log in at {absolute('/login')}\n"
    else:
        subject = f"Your sign-up on {name}"
        text = f"Hello,\n\nThe moderators of {name} did not approve the sign-up as @{account.handle}. Nothing more will be mailed about it.\n"
    queue_system_mail(session, to=account.email, subject=subject, text=text)


def on_registration_approved(session: Session, payload: dict[str, Any]) -> None:
    """Tell the person their sign-up was approved."""
    _decision(session, payload, True)


def on_registration_rejected(session: Session, payload: dict[str, Any]) -> None:
    """Tell the person their sign-up was not approved."""
    _decision(session, payload, False)
