"""The admin's moderation pages: reports from other servers, domain blocks, study group members."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from courses.folder import import_course
from courses.models import Course, Enrollment, Run, StudyGroup
from courses.versions import publish
from federation.entry import inbox
from federation.models import ActorBlock, Delivery, DomainBlock, Report
from server.floor import urls
from server.floor.clock import now
from server.floor.db import session_scope
from server.floor.queue import FAILED, QUEUED
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.conftest import FIXTURES
from tests.federation.conftest import Remote, payload, remote, signed_post  # noqa: F401  (fixture)
from tests.web.conftest import csrf_of, log_in

SPAMMER = "https://spam.example/users/troll"
PAGE = "/admin/moderation"


@pytest.fixture
def instance(settings: Settings) -> Iterator[TestClient]:
    """The whole app (inbox and pages) on the test instance, as the roof assembles it."""
    with TestClient(create_app(settings), base_url=settings.url) as test_client:
        yield test_client


def as_admin(client: TestClient, people: dict[str, str]) -> str:
    """Log the client in as the admin; the moderation page's CSRF token."""
    assert log_in(client, people["admin"]).status_code == 303
    return csrf_of(client, PAGE)


def report(reporter: str = SPAMMER, comment: str = "Spam in the study group") -> int:
    """A Flag report as the inbox handler stores it: a remote reporter about a local person."""
    with session_scope() as db:
        row = Report(
            activity_id=f"{reporter}#flags/{now().timestamp()}",
            reporter=reporter,
            targets=[urls.person("ada"), "https://spam.example/notes/1"],
            content=comment,
            created_at=now(),
        )
        db.add(row)
        db.flush()
        return row.id


def follow(actor: str, course: str, number: int) -> dict[str, object]:
    """A Mastodon Follow of a local course by `actor`."""
    return payload("mastodon-follow") | {"id": f"{actor}#follows/{number}", "actor": actor, "object": course}


@pytest.mark.parametrize("path", [PAGE, "/admin/queues"])
def test_only_admins_see_the_pages(app: Starlette, people: dict[str, str], path: str) -> None:
    with TestClient(app, base_url="http://testserver.localhost") as anonymous:
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    for role in ("learner", "organizer"):
        with TestClient(app, base_url="http://testserver.localhost") as client:
            assert log_in(client, people[role]).status_code == 303
            assert client.get(path, follow_redirects=False).status_code == 403
            token = csrf_of(client, "/account")
            posted = client.post(f"{PAGE}/domains", data={"domain": "spam.example", "csrf_token": token})
            assert posted.status_code == 403
            retry = client.post("/admin/queues/hosts/retry", data={"host": "spam.example", "csrf_token": token})
            assert retry.status_code == 403
    with session_scope() as db:
        assert db.scalar(select(func.count()).select_from(DomainBlock)) == 0


def test_domain_blocked_in_the_page_refuses_signed_inbox_posts(
    instance: TestClient,
    people: dict[str, str],
    remote: Remote,  # noqa: F811  (the federation tests' fixture)
) -> None:
    key = remote.actor(SPAMMER)
    with session_scope() as db:
        db.add(Course(slug="gentle-python", title="Gentle Python", summary="Learn Python together."))
        waiting = Delivery(
            activity_id="http://testserver.localhost/activities/1",
            sender=urls.instance_actor(),
            inbox="https://spam.example/inbox",
            host="spam.example",
            body="{}",
            next_attempt_at=now(),
        )
        db.add(waiting)
        db.flush()
        waiting_id = waiting.id
    course = urls.course("gentle-python")
    assert signed_post(instance, "/inbox", follow(SPAMMER, course, 1), key).status_code == 202

    token = as_admin(instance, people)
    added = instance.post(
        f"{PAGE}/domains",
        data={"domain": "Spam.Example", "reason": "spam", "csrf_token": token},
        follow_redirects=False,
    )
    assert added.status_code == 303
    page = instance.get(PAGE).text
    assert "spam.example is blocked. 1 queued deliveries to it were cancelled." in page
    assert "<td>spam.example</td>" in page

    assert signed_post(instance, "/inbox", follow(SPAMMER, course, 2), key).status_code == 403
    with session_scope() as db:
        cancelled = db.get(Delivery, waiting_id)
        assert cancelled is not None and cancelled.state == FAILED and "blocked" in (cancelled.last_error or "")

    lifted = instance.post(f"{PAGE}/domains/remove", data={"domain": "spam.example", "csrf_token": token})
    assert lifted.status_code == 200 and "spam.example is no longer blocked" in lifted.text
    assert signed_post(instance, "/inbox", follow(SPAMMER, course, 3), key).status_code == 202


def test_a_bad_domain_is_named_on_the_form(client: TestClient, people: dict[str, str]) -> None:
    token = as_admin(client, people)
    refused = client.post(f"{PAGE}/domains", data={"domain": "not a host", "reason": "", "csrf_token": token})
    assert refused.status_code == 400
    assert 'aria-invalid="true"' in refused.text and "Domain: domain &#39;not a host&#39;" in refused.text
    empty = client.post(f"{PAGE}/domains", data={"domain": "", "csrf_token": token})
    assert empty.status_code == 400 and "Domain: give a host name" in empty.text
    with session_scope() as db:
        assert db.scalar(select(func.count()).select_from(DomainBlock)) == 0


def test_a_report_appears_in_the_queue_and_resolves(client: TestClient, people: dict[str, str]) -> None:
    report_id = report()
    token = as_admin(client, people)
    page = client.get(PAGE).text
    assert f"Report {report_id} from {SPAMMER}" in page
    assert "Spam in the study group" in page and "https://spam.example/notes/1" in page
    assert "1 open report," in page

    resolved = client.post(
        f"{PAGE}/reports/{report_id}", data={"action": "resolve", "note": "talked to Ada", "csrf_token": token}
    )
    assert resolved.status_code == 200 and f"Report {report_id}: talked to Ada." in resolved.text
    assert "No open reports." in resolved.text and "<td>talked to Ada</td>" in resolved.text
    with session_scope() as db:
        row = db.get(Report, report_id)
        assert row is not None and row.resolved_at is not None and row.resolution == "talked to Ada"
    again = client.post(f"{PAGE}/reports/{report_id}", data={"action": "dismiss", "csrf_token": token})
    assert again.status_code == 400 and "already resolved" in again.text


def test_report_actions_block_the_actor_or_the_domain(client: TestClient, people: dict[str, str]) -> None:
    first, second, third = report(), report(comment="again"), report(comment="bogus")
    token = as_admin(client, people)
    outsider = client.post(
        f"{PAGE}/reports/{first}",
        data={"action": "block-actor", "actor": "https://elsewhere.example/users/x", "csrf_token": token},
    )
    assert outsider.status_code == 400 and "not one this report involves" in outsider.text

    blocked = client.post(
        f"{PAGE}/reports/{first}", data={"action": "block-actor", "actor": SPAMMER, "csrf_token": token}
    )
    assert f"blocked actor {SPAMMER}" in blocked.text
    client.post(
        f"{PAGE}/reports/{second}", data={"action": "block-domain", "domain": "spam.example", "csrf_token": token}
    )
    client.post(f"{PAGE}/reports/{third}", data={"action": "dismiss", "csrf_token": token})
    with session_scope() as db:
        assert db.scalar(select(ActorBlock.blocker).where(ActorBlock.blocked == SPAMMER)) == urls.instance_actor()
        assert db.scalar(select(DomainBlock.domain)) == "spam.example"
        resolutions = dict(db.execute(select(Report.id, Report.resolution)).all())
    assert resolutions == {
        first: f"blocked actor {SPAMMER}",
        second: "blocked domain spam.example",
        third: "dismissed: no action",
    }


@pytest.fixture
def group(settings: Settings) -> str:
    """A study group with an email member and a fediverse member; its handle."""
    with session_scope() as db:
        course = import_course(db, FIXTURES / "courses" / "gentle-python")
        db.flush()
        publish(db, course)
        run = Run(handle="gentle-python-2027", course_id=course.id, version_number=1, start_date=date(2027, 1, 4))
        db.add(run)
        db.flush()
        study_group = StudyGroup(run_id=run.id, number=1, handle="gentle-python-2027-g1", name="Group 1")
        db.add(study_group)
        db.flush()
        for email, actor, name in (("lin@example.org", None, "Lin"), (None, SPAMMER, "Troll")):
            db.add(
                Enrollment(
                    run_id=run.id,
                    email=email,
                    actor=actor,
                    name=name,
                    status="confirmed",
                    group_id=study_group.id,
                    token=f"token-{name}",
                )
            )
    return "gentle-python-2027-g1"


def test_remove_and_block_group_members(client: TestClient, people: dict[str, str], group: str) -> None:
    token = as_admin(client, people)
    found = client.get(f"{PAGE}/groups", params={"handle": f"@{group}@lists.example.org"}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"{PAGE}/groups/{group}"
    page = client.get(f"{PAGE}/groups/{group}").text
    assert "lin@example.org" in page and SPAMMER in page and "2 members" in page
    with session_scope() as db:
        ids = dict(db.execute(select(Enrollment.name, Enrollment.id)).all())

    removed = client.post(
        f"{PAGE}/groups/{group}", data={"action": "remove", "enrollment": ids["Lin"], "csrf_token": token}
    )
    assert removed.status_code == 200 and f"lin@example.org was removed from {group}." in removed.text
    assert "1 member" in removed.text
    email_block = client.post(
        f"{PAGE}/groups/{group}", data={"action": "block", "enrollment": ids["Lin"], "csrf_token": token}
    )
    assert email_block.status_code == 400  # no longer a member (and email members can only be removed)

    blocked = client.post(
        f"{PAGE}/groups/{group}", data={"action": "block", "enrollment": ids["Troll"], "csrf_token": token}
    )
    assert "is blocked from it" in blocked.text and "The group has no members now." in blocked.text
    with session_scope() as db:
        assert db.scalar(select(ActorBlock.blocker).where(ActorBlock.blocked == SPAMMER)) == urls.group(group)
        assert db.scalar(select(func.count()).select_from(Enrollment).where(Enrollment.group_id.is_not(None))) == 0
    assert client.get(f"{PAGE}/groups/no-such-group").status_code == 404


def test_a_domain_block_cancels_only_its_own_deliveries(client: TestClient, people: dict[str, str]) -> None:
    """Blocking one domain cancels its deliveries only: a similar-looking host keeps its own."""
    with session_scope() as db:
        for host in ("spam.example", "notspam.example", "a.spam.example:8443"):
            db.add(
                Delivery(
                    activity_id=f"http://testserver.localhost/activities/{host}",
                    sender=urls.instance_actor(),
                    inbox=f"https://{host}/inbox",
                    host=host,
                    body="{}",
                    next_attempt_at=now() + timedelta(minutes=5),
                )
            )
    token = as_admin(client, people)
    client.post(f"{PAGE}/domains", data={"domain": "spam.example", "reason": "", "csrf_token": token})
    with session_scope() as db:
        states = dict(db.execute(select(Delivery.host, Delivery.state)).all())
    assert states == {"spam.example": FAILED, "a.spam.example:8443": FAILED, "notspam.example": QUEUED}


def test_a_flag_received_by_the_inbox_reaches_the_queue(
    instance: TestClient,
    people: dict[str, str],
    remote: Remote,  # noqa: F811  (the federation tests' fixture)
) -> None:
    key = remote.actor(SPAMMER)
    flag = payload("mastodon-flag") | {
        "id": "https://spam.example/flags/1",
        "actor": SPAMMER,
        "object": [urls.person("ada"), "https://spam.example/notes/9"],
        "to": urls.person("ada"),
        "content": "Ada posts <b>off-topic</b> links",
    }
    assert signed_post(instance, "/inbox", flag, key).status_code == 202
    assert inbox.process_inbox() == 1
    as_admin(instance, people)
    page = instance.get(PAGE).text
    assert f"from {SPAMMER}" in page and "Ada posts off-topic links" in page
    assert f'<option value="{SPAMMER}">' in page and '<option value="spam.example">' in page
