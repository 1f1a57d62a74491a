"""Trust, item 1: an organizer must not reach other organizers' learners.

The attack this file replays: organizer B enrolls any address in B's own run (no consent asked),
then "Preview" or "Send me a test" of a run mail renders a real learner's `{{ links.me }}`; that
person's page `/me/{token}` listed the tokens of all their places, other organizers' runs and
group archives included. Each test performs one step of it and shows it is closed.
"""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from starlette.testclient import TestClient

from courses.models import Course, Enrollment, Run
from courses.runs import create_run
from courses.signup import admin_enroll
from mail.models import OutgoingMail
from server.floor.accounts import Account
from server.floor.db import session_scope
from server.floor.settings import Settings
from tests.web.coursepages import World, logged_in, outbox_texts, start_in, token_on, web, world  # noqa: F401

VICTIM = "vera@example.org"
LINK = re.compile(r"/(?:me|signup/confirm)/([A-Za-z0-9_-]{20,})")


@dataclass
class Places:
    """The victim's two places: in organizer A's (Olga's) run and in organizer B's (Bob's)."""

    run_a: str
    run_b: str
    token_a: str
    token_b: str


def account_id(email: str) -> int:
    """The id of the account with `email`."""
    with session_scope() as db:
        found = db.scalar(select(Account.id).where(Account.email == email))
        assert found is not None
        return found


def run_of_bob(world: World) -> str:
    """A second run of the course, organised by organizer B (Bob), who may see its learners."""
    with session_scope() as db:
        course = db.scalar(select(Course).where(Course.slug == world.slug))
        assert course is not None
        bob = db.get(Account, account_id(world.other))
        return create_run(db, course, start_in(30), "UTC", organizer=bob).handle


def victim_in_both(world: World) -> Places:
    """The victim confirmed in Olga's run and in Bob's (as B could enroll anyone before the fix)."""
    run_b = run_of_bob(world)
    tokens = []
    with session_scope() as db:
        for handle in (world.run, run_b):
            run = db.scalar(select(Run).where(Run.handle == handle))
            assert run is not None
            tokens.append(admin_enroll(db, run, VICTIM, name="Vera", timezone="Europe/Paris").token)
    return Places(world.run, run_b, tokens[0], tokens[1])


def every_token() -> set[str]:
    """The magic-link tokens of every place on the instance."""
    with session_scope() as db:
        return set(db.scalars(select(Enrollment.token)))


def place(run: str, email: str = VICTIM) -> Enrollment:
    """The place of `email` in `run` (detached)."""
    with session_scope() as db:
        found = db.scalar(select(Enrollment).join(Run).where(Run.handle == run, Enrollment.email == email))
        assert found is not None
        db.expunge(found)
        return found


def post(client: TestClient, path: str, page: str, **data: str):  # type: ignore[no-untyped-def]
    """POST a form with the CSRF token of `page`, as the browser would."""
    return client.post(path, data={"csrf_token": token_on(client, page), **data}, follow_redirects=False)


def test_preview_and_test_send_render_a_sample_learner_never_a_real_one(world: World, web: TestClient) -> None:
    places = victim_in_both(world)
    logged_in(web, world.other)
    page = f"/organize/runs/{places.run_b}/mail"
    body = "Hi {{ learner.name }} <{{ learner.email }}>: {{ links.me }} {{ links.learner_page }} {{ group.url }}"
    form = {"subject": "Hello {{ learner.name }}", "body": body, "audience": "run"}

    preview = post(web, page, page, action="preview", **form)
    assert preview.status_code == 200
    assert "Sample Learner" in preview.text and "/me/sample" in preview.text
    assert not any(token in preview.text for token in every_token())
    assert VICTIM not in preview.text and "Vera" not in preview.text

    sent = post(web, page, page, action="test", **form)
    assert sent.status_code == 303
    with session_scope() as db:
        tests = db.scalars(select(OutgoingMail).where(OutgoingMail.kind == "compose")).all()
        assert [(mail.to_addr, mail.subject) for mail in tests] == [(world.other, "[TEST] Hello Sample Learner")]
        message = tests[0].message
    assert not any(token in message for token in every_token())
    assert VICTIM not in message and "Vera" not in message
    assert f"To: {world.other}" in message
    # The sample page the links lead to is nobody's page.
    sample = web.get("/me/sample")
    assert sample.status_code == 200 and "sample" in sample.text and VICTIM not in sample.text


def test_a_learners_page_shows_no_token_of_their_other_places(world: World, web: TestClient) -> None:
    places = victim_in_both(world)
    stranger = admin_enroll_in(world.run, "sam@example.org")
    page = web.get(f"/me/{places.token_b}")
    assert page.status_code == 200
    assert places.token_a not in page.text  # the page of B's run opens no door to A's run
    assert f"/me/{places.token_b}/places/{place(places.run_a).id}/link" in page.text
    assert "Mail me a link" in page.text

    asked = post(web, f"/me/{places.token_b}/places/{place(places.run_a).id}/link", f"/me/{places.token_b}")
    assert asked.status_code == 303 and asked.headers["location"] == f"/me/{places.token_b}"
    shown = web.get(asked.headers["location"])
    assert f"on its way to {VICTIM}" in shown.text and places.token_a not in shown.text
    mails = outbox_texts(VICTIM)
    assert len(mails) == 1 and f"/me/{places.token_a}" in mails[0]  # the link goes to the person's mailbox only

    # Someone else's place, or this very place, is not "another place of yours": nothing is mailed.
    for forged in (stranger.id, place(places.run_b).id, 999999):
        refused = post(web, f"/me/{places.token_b}/places/{forged}/link", f"/me/{places.token_b}")
        assert refused.status_code == 404
    assert outbox_texts("sam@example.org") == [] and len(outbox_texts(VICTIM)) == 1
    assert post(web, f"/me/not-a-token/places/{stranger.id}/link", "/find-my-group").status_code == 404

    # Rate-limited: an open page cannot be used to flood the person's mailbox.
    for _ in range(6):
        post(web, f"/me/{places.token_b}/places/{place(places.run_a).id}/link", f"/me/{places.token_b}")
    assert len(outbox_texts(VICTIM)) == 5
    assert "try again in" in web.get(f"/me/{places.token_b}").text


def admin_enroll_in(run: str, email: str) -> Enrollment:
    """`email` enrolled in `run` by the command line's path (detached)."""
    with session_scope() as db:
        found = db.scalar(select(Run).where(Run.handle == run))
        assert found is not None
        enrollment = admin_enroll(db, found, email, name="Sam")
        db.flush()
        db.expunge(enrollment)
        return enrollment


def test_an_organizers_web_enroll_asks_for_confirmation_and_enrolls_nobody_until_then(
    world: World, web: TestClient
) -> None:
    run_b = run_of_bob(world)
    logged_in(web, world.other)
    page = f"/organize/runs/{run_b}"
    assert 'name="basis"' not in web.get(page).text  # the field is the admins'
    done = post(web, f"{page}/enroll", page, email=VICTIM, name="Vera", timezone="Europe/Paris")
    assert done.status_code == 303
    invited = place(run_b)
    assert invited.status == "pending" and invited.next_due_at is None and invited.confirmed_at is None
    assert invited.lawful_basis is None and invited.enrolled_by_id == account_id(world.other)
    (mail,) = outbox_texts(VICTIM)
    assert "invited you" in mail and f"/signup/confirm/{invited.token}" in mail
    shown = web.get(done.headers["location"].split("#")[0]).text
    assert "asking to confirm" in shown and invited.token not in shown
    # Compose to the run: the pending person is nobody's audience yet.
    mail_page = f"/organize/runs/{run_b}/mail"
    assert post(web, mail_page, mail_page, action="send", subject="Hi", body="Hi", audience="run").status_code == 303
    with session_scope() as db:
        assert db.scalars(select(OutgoingMail.kind).where(OutgoingMail.to_addr == VICTIM)).all() == ["confirm"]

    # A forged basis from an organizer who is not admin is refused, and enrolls nobody.
    forged = post(web, f"{page}/enroll", page, email="uma@example.org", basis="legitimate interest")
    assert forged.status_code == 403 and "only an admin" in forged.text
    csv_page = f"{page}/import"
    text = "email,name,timezone\numa@example.org,Uma,UTC\n"
    assert post(web, f"{csv_page}/confirm", csv_page, text=text, basis="contract").status_code == 403
    with session_scope() as db:
        assert db.scalar(select(Enrollment).where(Enrollment.email == "uma@example.org")) is None

    # Enrolled once the person opens the link and confirms.
    web.cookies.clear()
    confirm = f"/signup/confirm/{invited.token}"
    assert post(web, confirm, confirm).status_code == 200
    confirmed = place(run_b)
    assert confirmed.status == "confirmed" and confirmed.lawful_basis is None


def test_an_admin_import_with_a_basis_records_it(world: World, web: TestClient) -> None:
    logged_in(web, world.admin)
    path = f"/organize/runs/{world.run}/import"
    text = "email,name,timezone\numa@example.org,Uma,Asia/Kolkata\nvic@example.org,Vic,America/Lima\n"
    preview = post(web, path, path, text=text)
    assert preview.status_code == 200 and 'name="basis"' in preview.text
    too_long = post(web, f"{path}/confirm", path, text=text, basis="x" * 501)
    assert too_long.status_code == 400 and "Lawful basis: at most 500 characters" in too_long.text
    basis = "contract: staff training agreed with the employer, 2026"
    done = post(web, f"{path}/confirm", path, text=text, basis=basis)
    assert done.status_code == 303
    for email in ("uma@example.org", "vic@example.org"):
        enrolled = place(world.run, email)
        assert enrolled.status == "confirmed" and enrolled.lawful_basis == basis
        assert enrolled.enrolled_by_id == account_id(world.admin)
        assert outbox_texts(email) == []  # no confirmation mail: the basis stands for it

    # One person on the run page, with a basis; without one, even an admin's enroll asks for confirmation.
    page = f"/organize/runs/{world.run}"
    assert post(web, f"{page}/enroll", page, email="wes@example.org", basis="legal obligation").status_code == 303
    assert place(world.run, "wes@example.org").lawful_basis == "legal obligation"
    assert post(web, f"{page}/enroll", page, email="xia@example.org").status_code == 303
    assert place(world.run, "xia@example.org").status == "pending"


def test_the_command_line_enrolls_directly_and_records_its_basis(
    world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CONTRACT `run enroll`: the instance admin's terminal enrolls with no confirmation, the basis recorded."""
    from server.roof.cli import main

    for name, value in {
        "DATA_DIR": str(settings.data_dir), "URL": settings.url, "INSECURE_HTTP": "1",
        "SECRET_KEY": settings.secret_key, "MAIL_DOMAIN": settings.mail_domain, "DATABASE_URL": settings.database_url,
    }.items():  # fmt: skip
        monkeypatch.setenv(f"MECHMOOC_{name}", value)
    runner = CliRunner()
    plain = runner.invoke(main, ["run", "enroll", world.run, "ann@example.org"])
    assert plain.exit_code == 0, plain.output
    stated = runner.invoke(main, ["run", "enroll", world.run, "bo@example.org", "--basis", "contract 42"])
    assert stated.exit_code == 0, stated.output
    assert place(world.run, "ann@example.org").lawful_basis == "admin (command line)"
    assert place(world.run, "bo@example.org").lawful_basis == "contract 42"
    empty = runner.invoke(main, ["run", "enroll", world.run, "cy@example.org", "--basis", " "])
    assert empty.exit_code == 1 and "lawful basis" in empty.output
