"""The roof's background machinery: Celery tasks from declared jobs, the heartbeat, `/healthz`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from starlette.testclient import TestClient

from server.floor.heartbeat import WorkerHeartbeat, last_beat, record_beat
from server.floor.jobs import Job, registered, wake
from server.roof.celery_app import beat_schedule, broker_folders, install_waker, make_celery, queues


def test_every_job_becomes_a_task_and_periodic_ones_a_beat_entry(sqlite_settings):
    app = make_celery(sqlite_settings)
    jobs = registered()
    assert "server.heartbeat" in jobs
    assert set(jobs) <= set(app.tasks)
    schedule = app.conf.beat_schedule
    assert schedule["server.heartbeat"]["schedule"] == timedelta(seconds=jobs["server.heartbeat"].every)
    assert all(job.every for name, job in jobs.items() if name in schedule)


def test_queues_and_schedule_follow_the_declarations():
    noop = lambda: None  # noqa: E731
    jobs = {
        "mail.send": Job("mail.send", noop, every=None, queue="mail"),
        "federation.deliver": Job("federation.deliver", noop, every=5, queue="federation"),
    }
    assert queues(jobs) == ["default", "federation", "mail"]
    assert list(beat_schedule(jobs)) == ["federation.deliver"]
    assert beat_schedule(jobs)["federation.deliver"]["options"] == {"queue": "federation", "expires": 5}


def test_wake_sends_the_task_through_the_embedded_broker(sqlite_settings):
    install_waker(make_celery(sqlite_settings))
    folder = broker_folders(sqlite_settings)["data_folder_out"]
    before = set(folder.iterdir())
    wake("server.heartbeat")
    sent = [path.read_text() for path in set(folder.iterdir()) - before]
    assert len(sent) == 1 and "server.heartbeat" in sent[0]


def test_heartbeat_keeps_one_row_per_worker_and_forgets_old_ones(session):
    start = datetime(2026, 11, 25, 12, tzinfo=UTC)
    record_beat(session, "web-1:10", start - timedelta(days=2))
    record_beat(session, "worker-1:42", start)
    record_beat(session, "worker-1:42", start + timedelta(seconds=10))
    session.commit()
    rows = session.query(WorkerHeartbeat).all()
    assert [(row.worker, row.beats) for row in rows] == [("worker-1:42", 2)]
    assert last_beat(session) == start + timedelta(seconds=10)


def test_healthz_reports_a_stale_worker_as_unhealthy(session, settings):
    from server.roof.app import create_app

    client = TestClient(create_app(settings))
    fresh = client.get("/healthz")
    assert fresh.status_code == 200, fresh.text  # just started: no heartbeat yet is fine
    assert fresh.json()["database"]["ok"] and fresh.json()["worker"]["age_seconds"] is None

    record_beat(session, "worker-1:42", datetime.now(UTC) - timedelta(minutes=5))
    session.commit()
    stale = client.get("/healthz")
    assert stale.status_code == 503
    assert stale.json()["worker"]["ok"] is False and stale.json()["worker"]["age_seconds"] >= 299

    record_beat(session, "worker-1:42", datetime.now(UTC))
    session.commit()
    assert client.get("/healthz").status_code == 200


def test_a_worker_that_never_beat_is_only_excused_in_the_first_minute():
    from server.roof.health import check_worker

    assert check_worker(None, uptime=5).ok
    assert not check_worker(None, uptime=300).ok
    assert check_worker(12.0, uptime=300).ok and not check_worker(61.0, uptime=300).ok


def test_a_worker_silent_for_twenty_seconds_is_presumed_dead():
    from server.floor.heartbeat import HEARTBEAT_EVERY, STALE_AFTER
    from server.roof.health import check_worker

    # /healthz said "beating" up to a minute after every worker had died.
    assert STALE_AFTER <= timedelta(seconds=20) and HEARTBEAT_EVERY <= 5
    assert check_worker(15.0, uptime=300).ok and not check_worker(25.0, uptime=300).ok
    assert check_worker(None, uptime=45).ok  # a worker that is still starting keeps its minute of grace


def test_a_worker_beats_from_a_thread_of_its_own(session):
    import time

    from server.floor.heartbeat import start_beating, worker_name

    stop = start_beating(every=0.1)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            beats = session.scalar(select(WorkerHeartbeat.beats).where(WorkerHeartbeat.worker == worker_name()))
            session.commit()
            if beats is not None and beats >= 3:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the heartbeat thread did not beat three times")
    finally:
        stop.set()


def test_a_live_worker_whose_periodic_jobs_stopped_is_unhealthy(session, settings):
    from server.floor.heartbeat import JOBS, heartbeat, worker_name
    from server.roof.app import create_app

    heartbeat()  # the periodic job writes its own row
    assert session.scalar(select(WorkerHeartbeat.worker).where(WorkerHeartbeat.worker.endswith(JOBS))) == (
        worker_name() + JOBS
    )
    client = TestClient(create_app(settings))
    record_beat(session, "worker-1:42", datetime.now(UTC))  # the worker's own thread beats ...
    record_beat(session, worker_name() + JOBS, datetime.now(UTC) - timedelta(minutes=5))  # ... no job ran since
    session.commit()
    report = client.get("/healthz")
    assert report.status_code == 503 and report.json()["worker"]["ok"]
    assert not report.json()["jobs"]["ok"] and "scheduler" in report.json()["jobs"]["detail"]
