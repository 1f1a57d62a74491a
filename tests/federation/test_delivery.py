"""Delivery: rows per inbox (shared inboxes collapse), signed POSTs to a real sink, retries and hosts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from federation.models import ActorBlock, Delivery, Follower, RemoteActor, RemoteHost
from federation.protocol.signatures import ReceivedRequest, check_policy, parse_signature, verify_signature
from federation.transport import delivery
from federation.transport.keys import actor_key
from federation.transport.moderation import block_domain
from server.floor import urls
from server.floor.clock import frozen, now
from server.floor.config import use_settings
from server.floor.settings import Settings
from tests.federation.conftest import Remote
from tests.federation.sink import Sink, running_sink

COURSE = "http://testserver.localhost/courses/gentle-python"


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


def announce(n: int = 1) -> dict:
    return {
        "id": f"{COURSE}#announce-{n}",
        "type": "Announce",
        "actor": COURSE,
        "object": COURSE,
        "to": [f"{COURSE}/followers"],
    }


def add_follower(session: Session, follower: str, inbox: str, shared: str | None) -> None:
    session.add(Follower(actor=COURSE, follower=follower, inbox=inbox, shared_inbox=shared))
    session.flush()


def test_followers_collapse_onto_shared_inboxes(session: Session, settings: Settings) -> None:
    for name in ("ann", "bob", "cy"):
        add_follower(
            session,
            f"https://a.example/users/{name}",
            f"https://a.example/users/{name}/inbox",
            "https://a.example/inbox",
        )
    add_follower(session, "https://b.example/users/dee", "https://b.example/users/dee/inbox", None)
    add_follower(
        session, "https://spam.example/users/x", "https://spam.example/users/x/inbox", "https://spam.example/inbox"
    )
    add_follower(session, "https://c.example/users/eve", "https://c.example/users/eve/inbox", None)
    block_domain(session, "spam.example")
    session.add(ActorBlock(blocker="https://c.example/users/eve", blocked=COURSE))
    rows = delivery.enqueue(
        session,
        announce(),
        sender=COURSE,
        recipients=[f"{COURSE}/followers", "https://www.w3.org/ns/activitystreams#Public"],
    )
    assert sorted(row.inbox for row in rows) == ["https://a.example/inbox", "https://b.example/users/dee/inbox"]
    # Enqueuing the same activity again adds nothing.
    assert delivery.enqueue(session, announce(), sender=COURSE, recipients=[f"{COURSE}/followers"]) == []


def test_signed_post_reaches_the_inbox(session: Session, settings: Settings, sink: Sink) -> None:
    add_follower(session, f"{sink.url}/users/ann", f"{sink.url}/users/ann/inbox", f"{sink.url}/inbox")
    delivery.enqueue(session, announce(), sender=COURSE, recipients=[f"{COURSE}/followers"])
    session.commit()
    assert delivery.deliver_batch(session) == 1
    path, headers, body = sink.received[0]
    assert path == "/inbox" and json.loads(body)["id"] == f"{COURSE}#announce-1"
    request = ReceivedRequest.build("POST", sink.url + path, headers.items(), body)
    parsed = parse_signature(request)
    check_policy(request, parsed, now())
    assert parsed.key_id == f"{COURSE}#main-key"
    assert verify_signature(parsed, actor_key(session, COURSE).public_pem)
    row = session.scalar(select(Delivery))
    assert row is not None and row.state == "done" and row.status_code == 202


def test_retry_after_and_backoff(session: Session, settings: Settings, sink: Sink) -> None:
    add_follower(session, f"{sink.url}/users/ann", f"{sink.url}/users/ann/inbox", None)
    delivery.enqueue(session, announce(), sender=COURSE, recipients=[f"{COURSE}/followers"])
    session.commit()
    sink.answers.append((503, {"Retry-After": "7200"}))
    delivery.deliver_batch(session)
    row = session.scalar(select(Delivery))
    assert row is not None and row.state == "queued" and row.last_error == "HTTP 503"
    assert row.next_attempt_at >= now() + timedelta(hours=1, minutes=59)
    assert delivery.deliver_batch(session) == 0  # not due yet
    with frozen(now() + timedelta(hours=2, minutes=1)):
        assert delivery.deliver_batch(session) == 1
    session.refresh(row)
    assert row.state == "done" and len(sink.received) == 2


def test_final_refusals_are_not_retried(session: Session, settings: Settings, sink: Sink) -> None:
    add_follower(session, f"{sink.url}/users/ann", f"{sink.url}/users/ann/inbox", None)
    delivery.enqueue(session, announce(), sender=COURSE, recipients=[f"{COURSE}/followers"])
    session.commit()
    sink.answers.append((410, {}))
    delivery.deliver_batch(session)
    row = session.scalar(select(Delivery))
    assert row is not None and row.state == "failed" and row.last_error == "HTTP 410"


def test_a_host_that_is_down_keeps_the_delivery_for_later(session: Session, settings: Settings) -> None:
    with running_sink() as gone:
        url = gone.url  # a real port, closed once the sink stops: connection refused
    add_follower(session, f"{url}/users/ann", f"{url}/users/ann/inbox", None)
    delivery.enqueue(session, announce(), sender=COURSE, recipients=[f"{COURSE}/followers"])
    session.commit()
    delivery.deliver_batch(session)
    row = session.scalar(select(Delivery))
    assert row is not None and row.state == "queued" and row.attempts == 1
    assert row.next_attempt_at > now() and row.last_error
    with running_sink(port=int(url.rsplit(":", 1)[1])) as back, frozen(row.next_attempt_at + timedelta(seconds=1)):
        assert delivery.deliver_batch(session) == 1
        assert len(back.received) == 1
    session.refresh(row)
    assert row.state == "done"


def test_host_goes_unavailable_and_resumes_when_it_answers(session: Session, settings: Settings, sink: Sink) -> None:
    add_follower(session, f"{sink.url}/users/ann", f"{sink.url}/users/ann/inbox", None)
    for n in range(delivery.HOST_DOWN_AFTER):
        delivery.enqueue(session, announce(n), sender=COURSE, recipients=[f"{COURSE}/followers"])
    name = sink.url.removeprefix("http://")
    # It has been failing for ten minutes: long enough to be judged unavailable.
    session.add(RemoteHost(host=name, failures=0, failing_since=now() - timedelta(minutes=10)))
    session.commit()
    sink.answers.extend([(500, {})] * delivery.HOST_DOWN_AFTER)
    delivery.deliver_batch(session)
    host = session.get(RemoteHost, name)
    assert host is not None and host.unavailable_since is not None
    waiting = list(session.scalars(select(Delivery)))
    # The next probe is half of how long it has failed (5 minutes), not a flat hour.
    assert all(now() + timedelta(minutes=4) <= row.next_attempt_at <= now() + timedelta(minutes=6) for row in waiting)
    delivery.host_answered(session, name)
    session.commit()
    assert delivery.deliver_batch(session) == delivery.HOST_DOWN_AFTER
    assert {row.state for row in session.scalars(select(Delivery))} == {"done"}
    host = session.get(RemoteHost, name)
    assert host is not None and host.failing_since is None and host.failures == 0


def test_a_short_outage_never_parks_a_host(session: Session, settings: Settings, sink: Sink) -> None:
    """Issue 11: a peer down for 51 seconds (8 failed rows) was parked for an hour."""
    add_follower(session, f"{sink.url}/users/ann", f"{sink.url}/users/ann/inbox", None)
    for n in range(delivery.HOST_DOWN_AFTER + 2):
        delivery.enqueue(session, announce(n), sender=COURSE, recipients=[f"{COURSE}/followers"])
    session.commit()
    sink.answers.extend([(503, {})] * (delivery.HOST_DOWN_AFTER + 2))
    start = now()
    with frozen(start):
        delivery.deliver_batch(session)
    host = session.get(RemoteHost, sink.url.removeprefix("http://"))
    assert host is not None and host.failures >= delivery.HOST_DOWN_AFTER
    assert host.unavailable_since is None, "ten failures within a minute are an outage, not a dead host"
    # Each row waits its own short backoff: everything goes again within a couple of minutes.
    assert all(row.next_attempt_at <= start + timedelta(minutes=2) for row in session.scalars(select(Delivery)))


def test_probes_back_off_from_minutes_to_an_hour(session: Session, settings: Settings) -> None:
    at = now()
    host = RemoteHost(host="down.example", failures=50, failing_since=at - timedelta(minutes=4))
    assert not delivery.is_down(host, at)  # four minutes: not yet
    host.failing_since = at - timedelta(minutes=30)
    assert delivery.is_down(host, at) and delivery.probe_delay(host, at) == timedelta(minutes=15)
    host.failing_since = at - timedelta(seconds=30)
    assert delivery.probe_delay(host, at) == delivery.MIN_PROBE
    host.failing_since = at - timedelta(days=2)
    assert delivery.probe_delay(host, at) == delivery.PROBE_INTERVAL


def test_gives_up_after_the_configured_time(session: Session, settings: Settings, sink: Sink) -> None:
    add_follower(session, f"{sink.url}/users/ann", f"{sink.url}/users/ann/inbox", None)
    delivery.enqueue(session, announce(), sender=COURSE, recipients=[f"{COURSE}/followers"])
    session.commit()
    sink.answers.extend([(502, {}), (502, {})])
    use_settings(replace(settings, delivery_give_up_days=2))
    try:
        with frozen(now() + timedelta(days=1)):
            delivery.deliver_batch(session)
        row = session.scalar(select(Delivery))
        assert row is not None and row.state == "queued"
        with frozen(now() + timedelta(days=3)):
            delivery.deliver_batch(session)
        session.refresh(row)
        assert row.state == "failed" and "gave up after 2 days" in (row.last_error or "")
    finally:
        use_settings(settings)


def test_a_worker_killed_mid_batch_loses_nothing(session: Session, settings: Settings, sink: Sink) -> None:
    from server.floor.queue import claim

    add_follower(session, f"{sink.url}/users/ann", f"{sink.url}/users/ann/inbox", None)
    delivery.enqueue(session, announce(), sender=COURSE, recipients=[f"{COURSE}/followers"])
    session.commit()
    assert len(claim(session, Delivery)) == 1  # leased by a worker that then dies
    assert delivery.deliver_batch(session) == 0
    with frozen(now() + timedelta(minutes=6)):
        assert delivery.deliver_batch(session) == 1
    assert len(sink.received) == 1


def test_uncached_actor_is_resolved_by_the_worker(
    session: Session, settings: Settings, sink: Sink, remote: Remote
) -> None:
    actor = f"{sink.url}/users/zoe"
    remote.actor(actor)
    rows = delivery.enqueue(session, announce(), sender=COURSE, recipients=[actor])
    assert rows[0].inbox == delivery.ACTOR_TARGET + actor  # no I/O in the caller's transaction
    session.commit()
    delivery.deliver_batch(session)
    assert sink.received[0][0] == "/inbox"
    assert session.scalar(select(RemoteActor.ap_id)) == actor
    assert urls.course("gentle-python") == COURSE


def test_nothing_goes_to_an_actor_blocked_instance_wide(session: Session, settings: Settings) -> None:
    from federation.transport.moderation import block_actor

    add_follower(session, "https://a.example/users/ann", "https://a.example/users/ann/inbox", None)
    block_actor(session, "https://a.example/users/ann")
    assert delivery.enqueue(session, announce(), sender=COURSE, recipients=[f"{COURSE}/followers"]) == []


def test_one_host_takes_a_bounded_share_of_a_batch(session: Session, settings: Settings, sink: Sink) -> None:
    for n in range(delivery.PER_HOST_BATCH + 5):
        add_follower(session, f"{sink.url}/users/u{n}", f"{sink.url}/users/u{n}/inbox", None)
    delivery.enqueue(session, announce(), sender=COURSE, recipients=[f"{COURSE}/followers"])
    session.commit()
    assert delivery.deliver_batch(session) == delivery.PER_HOST_BATCH
    assert delivery.deliver_batch(session) == 5  # the rest were released, not lost
    assert len(sink.received) == delivery.PER_HOST_BATCH + 5


def test_one_batch_records_each_outcome_on_its_row_and_host(session: Session, settings: Settings, sink: Sink) -> None:
    """Hosts that took every POST are written set-wise, a failing host row by row, in one batch."""
    with running_sink() as gone:
        down = gone.url  # closed once the sink stops: connection refused
    with running_sink() as other:
        third = other.url  # closed too, but answered a POST before: the host row shows the reset
    for n, url in enumerate([sink.url, down, third]):
        add_follower(session, f"{url}/users/u{n}", f"{url}/users/u{n}/inbox", f"{url}/inbox")
    session.add(RemoteHost(host=delivery.delivery_host(third), failures=3, failing_since=now()))
    session.commit()
    with running_sink(port=int(third.rsplit(":", 1)[1])):
        delivery.enqueue(session, announce(), sender=COURSE, recipients=[f"{COURSE}/followers"])
        session.commit()
        assert delivery.deliver_batch(session) == 3
    rows = {row.host: row for row in session.scalars(select(Delivery))}
    hosts = {host.host: host for host in session.scalars(select(RemoteHost))}
    for url in (sink.url, third):
        name = delivery.delivery_host(url)
        assert rows[name].state == "done" and rows[name].status_code == 202 and rows[name].delivered_at
        assert hosts[name].failures == 0 and hosts[name].failing_since is None and hosts[name].last_success_at
    failed = delivery.delivery_host(down)
    assert rows[failed].state == "queued" and rows[failed].last_error and rows[failed].locked_until is None
    assert hosts[failed].failures == 1 and hosts[failed].last_success_at is None
    session.expire_all()  # what the database holds, not only the objects
    assert {row.host: row.state for row in session.scalars(select(Delivery))} == {
        name: row.state for name, row in rows.items()
    }
    assert session.get(RemoteHost, delivery.delivery_host(third)).failures == 0  # type: ignore[union-attr]


def test_the_job_sends_no_row_of_a_host_the_batch_before_found_unavailable(
    session: Session, settings: Settings, sink: Sink
) -> None:
    """The job claims the next batch while this one is sent (issue 16); this batch's outcomes still count first."""
    add_follower(session, f"{sink.url}/users/ann", f"{sink.url}/users/ann/inbox", None)
    for n in range(delivery.PER_HOST_BATCH + 5):  # two batches: a host's share each
        delivery.enqueue(session, announce(n), sender=COURSE, recipients=[f"{COURSE}/followers"])
    name = sink.url.removeprefix("http://")
    session.add(RemoteHost(host=name, failures=0, failing_since=now() - timedelta(minutes=10)))
    session.commit()
    sink.answers.extend([(500, {})] * (delivery.PER_HOST_BATCH + 5))
    assert delivery.deliver_due() == delivery.PER_HOST_BATCH  # the second batch's 5 rows were given back unsent
    assert len(sink.received) == delivery.PER_HOST_BATCH
    session.expire_all()
    rows = list(session.scalars(select(Delivery)))
    assert {row.state for row in rows} == {"queued"} and all(row.locked_until is None for row in rows)
    assert sorted(row.attempts for row in rows) == [0] * 5 + [1] * delivery.PER_HOST_BATCH
    assert all(row.next_attempt_at >= now() + timedelta(minutes=4) for row in rows)  # all wait for the probe
