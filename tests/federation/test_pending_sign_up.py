"""A sign-up awaiting its confirmation or approval is nobody on the fediverse yet: 404, not a Tombstone."""

from __future__ import annotations

from sqlalchemy.orm import Session

from community import registrations
from federation.flows.person_actor import gone_person
from server.floor.accounts import create_account


def test_a_pending_sign_up_is_not_gone_but_a_disabled_account_is(session: Session) -> None:
    registrations.set_mode(session, "approval")
    form = registrations.SignUp("newt@example.org", "newt", None, reason="hello", rules_accepted=True)
    newt = registrations.register(session, form)
    assert newt.disabled and gone_person(session, "newt") is None
    registrations.confirm(session, registrations.confirmation_token(newt.id))
    assert gone_person(session, "newt") is None  # awaiting approval
    old = create_account(session, "old@example.org", handle="old")
    old.disabled = True
    gone = gone_person(session, "old")
    assert gone is not None and gone["type"] == "Tombstone"
