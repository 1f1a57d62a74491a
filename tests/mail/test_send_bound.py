"""The crash bound, watched from the SMTP server's side: whenever the server is about to accept a mail, at
most one mail per connection that it accepted before is not yet recorded as sent in the database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mail.models import OutgoingMail
from mail.scheduler import schedule_all_due
from mail.sender import ROUND_PER_CONNECTION, send_all
from server.floor.clock import frozen
from server.floor.config import use_settings
from server.floor.db import session_factory
from server.floor.queue import DONE
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.support.smtp import SmtpSink, _Handler

START = datetime(2026, 3, 1, tzinfo=UTC)
CONNECTIONS = 3


class _Watching(_Handler):
    """Before each 250 to DATA: how many accepted mails the database does not show as sent yet."""

    def __init__(self, sink: SmtpSink) -> None:
        super().__init__(sink)
        self.unrecorded: list[int] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with session_factory()() as reader:  # another connection: sees only what was committed
            recorded = reader.scalar(select(func.count()).where(OutgoingMail.state == DONE)) or 0
        self.unrecorded.append(len(self.sink.received) - recorded)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-command-at-a-time"])
def test_at_most_one_accepted_mail_per_connection_is_unrecorded_at_any_time(
    session: Session, settings: Settings, pipelining: bool
) -> None:
    learners = 4 * CONNECTIONS * ROUND_PER_CONNECTION  # several rounds on every connection
    with frozen(START):
        gentle_run(session, [(f"l{i}@example.org", f"L {i}", "UTC") for i in range(learners)])
    sink = SmtpSink(pipelining=pipelining)
    watching = _Watching(sink)
    sink.controller.handler = watching
    with sink:
        use_settings(replace(settings, smtp_url=sink.url, smtp_connections=CONNECTIONS))
        try:
            with frozen(datetime(2026, 3, 2, 12, tzinfo=UTC)):
                assert schedule_all_due(session) == learners
                assert send_all(session).sent == learners
        finally:
            use_settings(settings)
    assert len(sink.received) == learners
    # When a connection's next mail is accepted its previous one is recorded; each of the other
    # connections may still have one unrecorded (a kill -9 at that instant would send those again).
    assert max(watching.unrecorded) <= CONNECTIONS - 1, watching.unrecorded
    # and the answers do not all wait for the end of a round
    assert max(watching.unrecorded) < ROUND_PER_CONNECTION
