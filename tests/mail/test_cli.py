"""`mechmooc mail send-due --now` and `mechmooc stats`, as a script would call them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from server.floor.clock import frozen
from server.floor.settings import Settings
from server.roof.cli import main
from tests.mail.conftest import gentle_run
from tests.support.smtp import SmtpSink


@pytest.fixture
def environment(sqlite_settings: Settings, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI reads the same instance from its environment."""
    for name, value in {
        "DATA_DIR": str(sqlite_settings.data_dir),
        "URL": sqlite_settings.url,
        "INSECURE_HTTP": "1",
        "SECRET_KEY": sqlite_settings.secret_key,
        "MAIL_DOMAIN": sqlite_settings.mail_domain,
        "SMTP_URL": smtp_sink.url,
    }.items():
        monkeypatch.setenv(f"MECHMOOC_{name}", value)
    return sqlite_settings


def test_send_due_at_an_instant_then_stats(environment: Settings, smtp_sink: SmtpSink) -> None:
    from server.floor.db import session_factory

    session: Session = session_factory()()
    with frozen(datetime(2026, 3, 1, tzinfo=UTC)):
        gentle_run(session, [("ann@example.org", "Ann", "Europe/Berlin"), ("bob@example.org", "Bob", "UTC")])
    session.close()
    runner = CliRunner()
    early = runner.invoke(main, ["mail", "send-due", "--now", "2026-03-02T08:30:00Z"])
    assert early.exit_code == 0, early.output
    assert early.output.strip().splitlines()[-1] == "1"  # 09:00 in Berlin is 08:00 UTC; London not yet
    later = runner.invoke(main, ["mail", "send-due", "--now", "2026-03-02T09:00:00Z"])
    assert later.output.strip().splitlines()[-1] == "1"
    assert len(smtp_sink.received) == 2
    stats = runner.invoke(main, ["stats", "gentle-python-1", "--json"])
    data = json.loads(stats.output)
    assert data["units"][0]["sent"] == 2 and data["units"][0]["slug"] == "welcome"
    assert data["opens_are_approximate"] is True
    csv_out = runner.invoke(main, ["stats", "gentle-python-1", "--csv"]).output
    assert csv_out.splitlines()[-1].startswith("run,gentle-python-1,2,2,2")
    bad = runner.invoke(main, ["mail", "send-due", "--now", "tuesday"])
    assert bad.exit_code == 1 and "--now must be an ISO-8601 instant" in bad.output
    missing = runner.invoke(main, ["stats", "no-such-run"])
    assert missing.exit_code == 1 and "no run no-such-run" in missing.output
