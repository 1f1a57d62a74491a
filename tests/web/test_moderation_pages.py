"""The moderation pages: the report form, the moderators' queue, account actions, domain blocks, the audit log."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from community import timelines
from community.models import ModerationAction, Profile, Report, Status
from community.moderation_models import BlockedDomain
from community.people import local_profile
from server.floor.accounts import Account, create_account
from server.floor.db import session_scope
from tests.community.moderation_support import remote, status
from tests.web.conftest import PASSWORD, csrf_of, log_in

MOD = "mo@example.org"


@pytest.fixture
def world(people: dict[str, str]) -> dict[str, int]:
    """A moderator, the people fixture's accounts with profiles, a troll with a post, a remote spammer."""
    with session_scope() as db:
        create_account(db, MOD, PASSWORD, role="moderator", handle="mo")
        troll_account = create_account(db, "troll@example.org", PASSWORD, handle="troll")
        for email in people.values():
            account = db.scalar(select(Account).where(Account.email == email))
            assert account is not None
            local_profile(db, account)
        troll = local_profile(db, troll_account)
        post = status(db, troll, "You are all idiots")
        other = status(
            db, local_profile(db, db.scalar(select(Account).where(Account.email == people["organizer"]))), "kind words"
        )  # type: ignore[arg-type]
        spammer = remote(db, "spam", "spam.example")
        return {"troll": troll.id, "post": post.id, "other": other.id, "spammer": spammer.id}


def logged_in(app: Starlette, email: str) -> TestClient:
    client = TestClient(app, base_url="http://testserver.localhost")
    assert log_in(client, email).status_code == 303
    return client


def test_a_learner_reports_a_post_and_the_moderator_sees_it(
    app: Starlette, people: dict[str, str], world: dict[str, int]
) -> None:
    learner = logged_in(app, people["learner"])
    profile_page = learner.get("/@troll")
    assert profile_page.status_code == 200 and f'href="/report?account={world["troll"]}"' in profile_page.text
    thread = learner.get(f"/@troll/{world['post']}")
    assert f'href="/report?account={world["troll"]}&amp;status={world["post"]}"' in thread.text
    form = learner.get(f"/report?account={world['troll']}&status={world['post']}")
    assert form.status_code == 200 and "Report @troll" in form.text
    assert re.search(rf'value="{world["post"]}" checked', form.text)
    token = csrf_of(learner, f"/report?account={world['troll']}")
    sent = learner.post(
        "/report",
        data={
            "csrf_token": token,
            "account": str(world["troll"]),
            "status_ids": [str(world["post"])],
            "category": "violation",
            "comment": "insults in the local timeline",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert "The moderators have your report" in learner.get(sent.headers["location"]).text
    with session_scope() as db:
        report = db.scalar(select(Report))
        assert report is not None and report.status_ids == [world["post"]] and report.category == "violation"
        report_id = report.id

    moderator = logged_in(app, MOD)
    queue = moderator.get("/admin/reports").text
    assert f"Report {report_id} about @troll" in queue and "insults in the local timeline" in queue
    detail = moderator.get(f"/admin/reports/{report_id}").text
    assert "You are all idiots" in detail and "lena" in detail

    # Deleting the reported post from the report keeps what it said for the moderators.
    token = csrf_of(moderator, f"/admin/reports/{report_id}")
    deleted = moderator.post(
        f"/admin/reports/{report_id}",
        data={"csrf_token": token, "action": "delete_status", "status_id": str(world["post"]), "reason": "insults"},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    after = moderator.get(f"/admin/reports/{report_id}").text
    assert "Deleted since it was reported" in after and "You are all idiots" in after
    with session_scope() as db:
        post = db.get(Status, world["post"])
        assert post is not None and post.deleted and post.text == ""


def test_a_hostile_report_is_answered_400_naming_the_field(
    app: Starlette, people: dict[str, str], world: dict[str, int]
) -> None:
    with session_scope() as db:
        troll = db.get(Profile, world["troll"])
        assert troll is not None
        secret = status(db, troll, "a secret for my followers", visibility="private").id
    learner = logged_in(app, people["learner"])
    peek = learner.get(f"/report?account={world['troll']}&status={secret}")
    assert peek.status_code == 200 and "a secret for my followers" not in peek.text
    token = csrf_of(learner, f"/report?account={world['troll']}")
    base = {"csrf_token": token, "account": str(world["troll"]), "category": "spam"}
    wrong = learner.post("/report", data=base | {"status_ids": [str(world["other"])]})
    assert wrong.status_code == 400 and "is not a status of @troll" in wrong.text
    long = learner.post("/report", data=base | {"comment": "x" * 1001})
    assert long.status_code == 400 and "at most 1000 characters" in long.text
    with session_scope() as db:
        assert db.scalar(select(Report)) is None
    anonymous = TestClient(app, base_url="http://testserver.localhost")
    assert anonymous.get(f"/report?account={world['troll']}", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("path", ["/admin/reports", "/admin/audit", "/admin/domain_blocks", "/admin/accounts/{troll}"])
def test_only_moderators_and_admins_see_the_queue(
    app: Starlette, people: dict[str, str], world: dict[str, int], path: str
) -> None:
    path = path.format(**world)
    for email, expected in ((people["learner"], 403), (people["organizer"], 403), (MOD, 200), (people["admin"], 200)):
        assert logged_in(app, email).get(path, follow_redirects=False).status_code == expected, email
    learner = logged_in(app, people["learner"])
    token = csrf_of(learner, "/account")
    posted = learner.post(
        f"/admin/accounts/{world['troll']}/actions", data={"csrf_token": token, "action": "suspend", "reason": "x"}
    )
    assert posted.status_code == 403
    with session_scope() as db:
        assert db.scalar(select(ModerationAction)) is None


def test_suspending_from_a_report_resolves_it_and_the_audit_log_names_moderator_and_reason(
    app: Starlette, people: dict[str, str], world: dict[str, int]
) -> None:
    with session_scope() as db:
        reporter = db.scalar(select(Profile).where(Profile.username == "lena"))
        assert reporter is not None
        db.add(
            Report(
                reporter_id=reporter.id,
                target_id=world["troll"],
                status_ids=[world["post"]],
                comment="",
                category="other",
            )
        )
    with session_scope() as db:
        report_id = db.scalar(select(Report.id))
    moderator = logged_in(app, MOD)
    token = csrf_of(moderator, f"/admin/reports/{report_id}")
    no_reason = moderator.post(
        f"/admin/reports/{report_id}", data={"csrf_token": token, "action": "suspend", "reason": ""}
    )
    assert no_reason.status_code == 400 and "say why" in no_reason.text
    done = moderator.post(
        f"/admin/reports/{report_id}",
        data={"csrf_token": token, "action": "suspend", "reason": "insults after two warnings"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with session_scope() as db:
        report = db.get(Report, report_id)
        troll = db.get(Profile, world["troll"])
        account = db.scalar(select(Account).where(Account.handle == "troll"))
        assert report is not None and report.resolved_at is not None
        assert troll is not None and troll.suspended_at is not None and account is not None and account.disabled
        assert world["post"] not in [s.id for s in timelines.public(db, None)]
    # The suspended person cannot log in any more.
    assert log_in(TestClient(app, base_url="http://testserver.localhost"), "troll@example.org").status_code != 303
    audit = moderator.get("/admin/audit").text
    assert re.search(r"<strong>mo</strong> suspended\s*<a href=\"/admin/accounts/\d+\">@troll</a>", audit)
    assert "insults after two warnings" in audit


def test_silencing_a_person_takes_their_post_off_public_but_not_off_a_followers_home(
    app: Starlette, people: dict[str, str], world: dict[str, int]
) -> None:
    from community import graph

    with session_scope() as db:
        lena = db.scalar(select(Profile).where(Profile.username == "lena"))
        troll = db.get(Profile, world["troll"])
        assert lena is not None and troll is not None
        graph.follow(db, lena, troll)
        post = status(db, troll, "a post after the follow")
        post_id, lena_id = post.id, lena.id
    moderator = logged_in(app, MOD)
    page = moderator.get(f"/admin/accounts/{world['troll']}")
    assert "in good standing" in page.text and "a post after the follow" in page.text
    token = csrf_of(moderator, f"/admin/accounts/{world['troll']}")
    done = moderator.post(
        f"/admin/accounts/{world['troll']}/actions",
        data={"csrf_token": token, "action": "silence", "reason": "floods the local timeline"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "silenced since" in moderator.get(done.headers["location"]).text
    with session_scope() as db:
        lena = db.get(Profile, lena_id)
        assert lena is not None
        assert post_id not in [s.id for s in timelines.public(db, None)]
        assert post_id in [s.id for s in timelines.home(db, lena)]

    deleted = moderator.post(
        f"/admin/accounts/{world['troll']}/actions",
        data={"csrf_token": token, "action": "delete_status", "status_id": str(post_id), "reason": "abuse"},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    with session_scope() as db:
        row = db.get(Status, post_id)
        assert row is not None and row.deleted


def test_domain_blocks_page_suspends_changes_and_lifts(
    app: Starlette, people: dict[str, str], world: dict[str, int]
) -> None:
    moderator = logged_in(app, MOD)
    token = csrf_of(moderator, "/admin/domain_blocks")
    bad = moderator.post(
        "/admin/domain_blocks", data={"csrf_token": token, "domain": "not a host", "severity": "suspend"}
    )
    assert bad.status_code == 400 and "is not a host name" in bad.text
    added = moderator.post(
        "/admin/domain_blocks",
        data={"csrf_token": token, "domain": "spam.example", "severity": "suspend", "reason": "spam farm"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    page = moderator.get("/admin/domain_blocks").text
    assert "spam.example is suspended." in page and "<td>suspended</td>" in page
    with session_scope() as db:
        spammer = db.get(Profile, world["spammer"])
        assert spammer is not None and spammer.suspended_at is not None
    lifted = moderator.post(
        "/admin/domain_blocks/remove", data={"csrf_token": token, "domain": "spam.example"}, follow_redirects=False
    )
    assert lifted.status_code == 303
    with session_scope() as db:
        assert db.scalar(select(BlockedDomain)) is None
        spammer = db.get(Profile, world["spammer"])
        assert spammer is not None and spammer.suspended_at is None
    audit = moderator.get("/admin/audit").text
    assert "suspended the domain" in audit and "spam farm" in audit and "lifted the block of the domain" in audit


def test_deleting_a_study_group_post_tells_the_groups_relays(
    app: Starlette, people: dict[str, str], world: dict[str, int]
) -> None:
    from datetime import date

    from courses.models import Course, Run, StudyGroup
    from server.floor.events import DomainEvent

    with session_scope() as db:
        course = Course(slug="gentle-python", title="Gentle Python", summary="Learn Python together.")
        db.add(course)
        db.flush()
        run = Run(handle="gentle-python-2027", course_id=course.id, version_number=1, start_date=date(2027, 1, 4))
        db.add(run)
        db.flush()
        group = StudyGroup(run_id=run.id, number=1, handle="gentle-python-2027-g1", name="Group 1")
        db.add(group)
        db.flush()
        post = Status(
            profile_id=world["troll"], group_id=group.id, run_id=run.id, kind="group", source="local", local=True,
            visibility="group", text="spam to the group", html="<p>spam to the group</p>",
        )  # fmt: skip
        db.add(post)
        db.flush()
        post_id = post.id
    moderator = logged_in(app, MOD)
    token = csrf_of(moderator, f"/admin/accounts/{world['troll']}")
    done = moderator.post(
        f"/admin/accounts/{world['troll']}/actions",
        data={"csrf_token": token, "action": "delete_status", "status_id": str(post_id), "reason": "spam"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with session_scope() as db:
        row = db.get(Status, post_id)
        assert row is not None and row.deleted
        names = [e.payload for e in db.scalars(select(DomainEvent).where(DomainEvent.name == "post.deleted"))]
        assert names == [{"post_id": post_id, "by": "moderator"}]
        entry = db.scalar(select(ModerationAction).where(ModerationAction.target_status_id == post_id))
        assert entry is not None and entry.action == "delete_status" and entry.reason == "spam"


def test_a_block_on_the_federation_moderation_page_is_a_community_suspension_too(
    app: Starlette, people: dict[str, str], world: dict[str, int]
) -> None:
    admin = logged_in(app, people["admin"])
    token = csrf_of(admin, "/admin/moderation")
    added = admin.post(
        "/admin/moderation/domains",
        data={"csrf_token": token, "domain": "spam.example", "reason": "spam"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    with session_scope() as db:
        block = db.scalar(select(BlockedDomain))
        spammer = db.get(Profile, world["spammer"])
        assert (
            block is not None
            and block.severity == "suspend"
            and spammer is not None
            and spammer.suspended_at is not None
        )
    lifted = admin.post(
        "/admin/moderation/domains/remove", data={"csrf_token": token, "domain": "spam.example"}, follow_redirects=False
    )
    assert lifted.status_code == 303
    with session_scope() as db:
        spammer = db.get(Profile, world["spammer"])
        assert db.scalar(select(BlockedDomain)) is None and spammer is not None and spammer.suspended_at is None


def test_a_moderator_finds_an_account_by_its_handle(
    app: Starlette, people: dict[str, str], world: dict[str, int]
) -> None:
    moderator = logged_in(app, MOD)
    found = moderator.get("/admin/accounts/find?acct=@spam@spam.example", follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/admin/accounts/{world['spammer']}"
    local = moderator.get("/admin/accounts/find?acct=troll", follow_redirects=False)
    assert local.headers["location"] == f"/admin/accounts/{world['troll']}"
    assert moderator.get("/admin/accounts/find?acct=nobody@nowhere.example").status_code == 404


def test_the_queue_points_to_flags_about_courses(app: Starlette, people: dict[str, str], world: dict[str, int]) -> None:
    from federation.models import Report as FederationReport

    with session_scope() as db:
        db.add(FederationReport(activity_id="https://m.example/flags/9", reporter="https://m.example/actor",
                                targets=["http://testserver.localhost/courses/gentle-python"], content="spam course"))  # fmt: skip
    page = logged_in(app, MOD).get("/admin/reports").text
    assert "1 report from other servers about courses, runs or study groups" in page


def test_a_moderator_reaches_an_accounts_moderation_page_from_its_profile(
    app: Starlette, people: dict[str, str], world: dict[str, int]
) -> None:
    link = f'href="/admin/accounts/{world["troll"]}"'
    assert link in logged_in(app, MOD).get("/@troll").text
    assert link not in logged_in(app, people["learner"]).get("/@troll").text
