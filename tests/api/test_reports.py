"""POST /api/v1/reports through Mastodon.py: the report reaches the moderators' queue and their notifications."""

from __future__ import annotations

import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError
from sqlalchemy import select

from community import sanctions
from community.models import Notification, Report
from server.floor.accounts import Account
from server.floor.db import session_scope
from tests.api.clients import client_for, register_app
from tests.api.conftest import Person, make_person


def test_a_report_from_an_app_reaches_the_moderators(server_url: str, alice: Person, bob: Person) -> None:
    moderator = make_person("mo", role="moderator")
    app = register_app(server_url)
    a, b = client_for(server_url, alice, app), client_for(server_url, bob, app)
    mo: Mastodon = client_for(server_url, moderator, app)
    mo.account_verify_credentials()  # the moderator's profile exists
    rude = b.status_post("you are all idiots", visibility="public")
    secret = b.status_post("for my followers", visibility="private")
    bob_id = a.account_lookup("bob").id
    report = a.report(bob_id, status_ids=[rude.id], comment="insults", category="violation")
    assert [str(i) for i in report.status_ids] == [str(rude.id)]
    assert report.target_account.acct == "bob" and report.category == "violation"
    with pytest.raises(MastodonAPIError):  # a followers-only post alice cannot read: refused (422)
        a.report(bob_id, status_ids=[secret.id], comment="peeking", category="other")
    with session_scope() as db:
        (row,) = db.scalars(select(Report)).all()
        assert row.comment == "insults" and row.evidence[0]["text"] == "you are all idiots"
        note = db.scalar(select(Notification).where(Notification.type == "admin.report"))
        assert note is not None and note.report_id == row.id
    assert [n.type for n in mo.notifications()] == ["admin.report"]

    # Suspended, bob's app stops working at once (the account is disabled: 401).
    with session_scope() as db:
        moderator_account = db.scalar(select(Account).where(Account.handle == "mo"))
        assert moderator_account is not None
        sanctions.suspend(db, moderator_account, int(bob_id), "insults")
    with pytest.raises(MastodonAPIError) as refused:
        b.account_verify_credentials()
    assert refused.value.args[1] == 401
