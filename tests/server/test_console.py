"""What `serve` prints (issue 15, item 3): job summaries instead of task lines, keys kept out of the log."""

from __future__ import annotations

import logging

import pytest

from server.floor.jobs import Job
from server.roof import console
from server.roof.celery_app import _task_body, worker_argv


def test_a_job_says_what_it_did_only_when_it_did_something() -> None:
    sender = Job("mail.send", lambda: 0, every=5, queue="mail", summary="sent {n} mails")
    assert sender.summarise(12) == "sent 12 mails"
    assert [sender.summarise(value) for value in (0, -1, None, True, "3")] == [None] * 5
    assert Job("quiet", lambda: 0, every=5, queue="default").summarise(5) is None


def test_the_task_logs_the_summary(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import server.roof.celery_app as celery_app

    results = iter([3, 0])
    job = Job("mail.send", lambda: next(results), every=5, queue="mail", summary="sent {n} mails")
    monkeypatch.setattr(celery_app, "registered", lambda: {"mail.send": job})
    run = _task_body("mail.send")
    with caplog.at_level(logging.INFO, logger="mechmooc.jobs"):
        run()
        run()
    assert [record.getMessage() for record in caplog.records] == ["sent 3 mails"]


def test_the_embedded_worker_prints_no_banner_and_no_task_lines(sqlite_settings) -> None:
    embedded = worker_argv(sqlite_settings, None, ["default"], embedded=True)
    assert embedded[0] == "-q" and "--loglevel=INFO" in embedded  # Celery's lines, then quietened
    assert worker_argv(sqlite_settings, None, ["default"])[0] == "worker"  # a worker of its own as before
    console.quieten("info")
    assert logging.getLogger("celery.app.trace").getEffectiveLevel() == logging.WARNING
    console.quieten("debug")
    assert logging.getLogger("celery.app.trace").getEffectiveLevel() == logging.INFO
    console.quieten("info")


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/me/Zx9-secret_Token/group", "/me/…/group"),
        ("/login/once/abcDEF123", "/login/once/…"),
        ("/signup/confirm/tok?x=1", "/signup/confirm/…?x=1"),
        ("/password/reset/tok", "/password/reset/…"),
        ("/mail/o/tok.gif", "/mail/o/…"),
        ("/mail/c/tok?u=https://example.org", "/mail/c/…?u=https://example.org"),
        ("/mail/unsubscribe/all/signed.value", "/mail/unsubscribe/all/…"),
        ("/mail/unsubscribe/key", "/mail/unsubscribe/…"),
        ("/runs/gentle-python-1", "/runs/gentle-python-1"),
        ("/", "/"),
    ],
)
def test_the_access_log_hides_the_keys_of_secret_links(path: str, shown: str) -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', None, None)
    record.args = ("127.0.0.1:5000", "GET", path, "1.1", 200)
    assert console.HideKeys().filter(record)
    assert record.getMessage() == f'127.0.0.1:5000 - "GET {shown} HTTP/1.1" 200'
