"""The admin's queue health page: counts by state of every queue, unavailable hosts, heartbeats."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

import web.pages.admin
from federation.models import Delivery, InboxActivity, RemoteHost
from mail.models import UNCERTAIN, OutgoingMail
from server.floor import urls
from server.floor.clock import now
from server.floor.db import session_scope
from server.floor.heartbeat import record_beat
from server.floor.queue import DONE, FAILED, QUEUED
from tests.web.conftest import csrf_of, log_in

PAGE = "/admin/queues"
DOWN = "down.example:443"


def counts(html: str, table: str) -> dict[str, int]:
    """The numbers by state in one of the page's count tables."""
    match = re.search(rf'<table id="{table}">.*?</table>', html, re.S)
    assert match, f"no table {table} on the page"
    return {state: int(number) for state, number in re.findall(r'data-state="(\w+)">(\d+)<', match.group(0))}


def fill_queues() -> None:
    """Rows in every queue, in known states."""
    at = now()
    with session_scope() as db:
        for number, state in enumerate([QUEUED, QUEUED, DONE, FAILED]):
            db.add(
                Delivery(
                    activity_id=f"{urls.instance_actor()}/activities/{number}",
                    sender=urls.instance_actor(),
                    inbox=f"https://up.example/inbox/{number}",
                    host="up.example",
                    body="{}",
                    state=state,
                    next_attempt_at=at - timedelta(minutes=number),
                    last_error="HTTP 410" if state == FAILED else None,
                )
            )
        db.add(RemoteHost(host=DOWN, failures=9, unavailable_since=at - timedelta(hours=2), last_failure_at=at))
        for number in range(3):
            db.add(
                Delivery(
                    activity_id=f"{urls.instance_actor()}/activities/down-{number}",
                    sender=urls.instance_actor(),
                    inbox=f"https://{DOWN}/inbox",
                    host=DOWN,
                    body="{}",
                    next_attempt_at=at + timedelta(hours=1),
                    last_error="ConnectError: refused",
                )
            )
        for number, state in enumerate([QUEUED, DONE, DONE, FAILED]):
            db.add(
                InboxActivity(
                    activity_id=f"https://remote.example/activities/{number}",
                    type="Create",
                    actor="https://remote.example/users/kim",
                    payload={},
                    state=state,
                    next_attempt_at=at,
                    last_error="object has no id" if state == FAILED else None,
                )
            )
        for number, state in enumerate([QUEUED, DONE, DONE, UNCERTAIN]):
            db.add(
                OutgoingMail(
                    key=f"system:{number}",
                    token=f"token{number}",
                    to_addr=f"learner{number}@example.org",
                    envelope_from="bounces@lists.example.org",
                    message="Subject: hi\n\nhello",
                    state=state,
                    next_attempt_at=at,
                )
            )
        record_beat(db, "worker-a:1", at)
        record_beat(db, "worker-b:2", at - timedelta(minutes=10))


@pytest.fixture
def admin(client: TestClient, people: dict[str, str]) -> str:
    """The client logged in as the admin; a CSRF token."""
    assert log_in(client, people["admin"]).status_code == 303
    return csrf_of(client, PAGE)


def test_counts_reflect_the_rows(client: TestClient, admin: str) -> None:
    empty = client.get(PAGE).text
    assert counts(empty, "delivery-counts") == {QUEUED: 0, DONE: 0, FAILED: 0}
    assert "No worker has ever reported a heartbeat." in empty
    fill_queues()
    page = client.get(PAGE).text
    assert counts(page, "delivery-counts") == {QUEUED: 5, DONE: 1, FAILED: 1}
    assert counts(page, "inbox-counts") == {QUEUED: 1, DONE: 2, FAILED: 1}
    assert counts(page, "mail-counts") == {QUEUED: 1, DONE: 2, FAILED: 0, UNCERTAIN: 1}
    assert f"<td>{DOWN}</td><td>9</td>" in page and "<td>3</td>" in page  # failures, then waiting rows
    assert "object has no id" in page and "HTTP 410" in page
    assert "a worker is running." in page and "worker-b:2" in page and "silent" in page


def test_the_page_reads_aggregates_not_rows(client: TestClient, admin: str) -> None:
    """Statements do not grow with the rows, and never load the activities' or mails' bodies."""
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    def statements_of_the_page() -> list[str]:
        seen.clear()
        event.listen(Engine, "before_cursor_execute", record)
        try:
            assert client.get(PAGE).status_code == 200
        finally:
            event.remove(Engine, "before_cursor_execute", record)
        return list(seen)

    fill_queues()
    few = statements_of_the_page()
    with session_scope() as db:
        for number in range(50):
            db.add(
                Delivery(
                    activity_id=f"{urls.instance_actor()}/activities/more-{number}",
                    sender=urls.instance_actor(),
                    inbox="https://up.example/inbox",
                    host="up.example",
                    body="{}",
                    next_attempt_at=now(),
                )
            )
    many = statements_of_the_page()
    assert len(many) == len(few)
    assert [s for s in many if re.search(r"\.(body|payload|message)\b", s)] == []


def test_retry_now_makes_a_down_hosts_deliveries_due(
    client: TestClient, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    woken: list[str] = []
    monkeypatch.setattr("web.pages.admin_queues.wake", woken.append)
    fill_queues()
    before = now()
    answer = client.post(f"{PAGE}/hosts/retry", data={"host": DOWN, "csrf_token": admin})
    assert answer.status_code == 200 and f"3 deliveries to {DOWN} will be retried now." in answer.text
    assert woken == ["federation.deliver"]
    with session_scope() as db:
        due = list(db.scalars(select(Delivery.next_attempt_at).where(Delivery.host == DOWN)))
        others = list(db.scalars(select(Delivery.next_attempt_at).where(Delivery.host != DOWN)))
    assert len(due) == 3 and all(at <= now() and at >= before - timedelta(seconds=1) for at in due)
    assert all(at <= before for at in others)  # other hosts untouched
    unknown = client.post(f"{PAGE}/hosts/retry", data={"host": "nowhere.example", "csrf_token": admin})
    assert unknown.status_code == 400 and "nowhere.example" in unknown.text


def test_links_to_the_mail_admin_page_when_there_is_one(
    client: TestClient, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    others = tuple(section for section in web.pages.admin.SECTIONS if "mail" not in section.path)
    monkeypatch.setattr(web.pages.admin, "SECTIONS", others)
    assert "Open the mail outbox" not in client.get(PAGE).text
    mail_section = web.pages.admin.AdminSection("Mail outbox", "/admin/outbox", "Every mail sent or waiting.")
    monkeypatch.setattr(web.pages.admin, "SECTIONS", (*others, mail_section))
    assert '<a href="/admin/outbox">Open the mail outbox</a>' in client.get(PAGE).text
