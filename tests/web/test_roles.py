"""Roles: who sees which links and pages; the admin edits the instance's identity."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from server.floor.accounts import Account
from server.floor.db import session_scope
from server.floor.instance import instance_info
from tests.web.conftest import csrf_of, log_in
from web.auth import has_role, may_change


def test_anonymous_visitors_are_sent_to_log_in(client: TestClient, people: dict[str, str]) -> None:
    response = client.get("/admin/instance", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/admin/instance"
    assert client.get("/test/organizers", follow_redirects=False).status_code == 303


def test_admin_pages_refuse_organizers_and_learners(client: TestClient, people: dict[str, str]) -> None:
    for role in ("learner", "organizer"):
        log_in(client, people[role])
        response = client.get("/admin/instance")
        assert response.status_code == 403, role
        assert "This page is for admins." in response.text
        client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    log_in(client, people["admin"])
    assert client.get("/admin/instance").status_code == 200


def test_organizer_pages_admit_organizers_and_admins(client: TestClient, people: dict[str, str]) -> None:
    expected = {"learner": 403, "organizer": 200, "admin": 200}
    for role, status in expected.items():
        log_in(client, people[role])
        assert client.get("/test/organizers").status_code == status, role
        client.post("/logout", data={"csrf_token": csrf_of(client, "/")})


def test_navigation_depends_on_the_role(client: TestClient, people: dict[str, str]) -> None:
    assert 'href="/admin"' not in client.get("/").text
    log_in(client, people["learner"])
    assert 'href="/admin"' not in client.get("/").text
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    log_in(client, people["admin"])
    page = client.get("/admin")
    assert 'href="/admin" aria-current="page"' in page.text
    assert 'href="/admin/instance"' in page.text


def test_the_visibility_rule_for_organizer_pages() -> None:
    admin, organizer, learner = (Account(id=n, role=r) for n, r in ((1, "admin"), (2, "organizer"), (3, "learner")))
    assert may_change(admin, 2) and may_change(admin, None)
    assert may_change(organizer, 2) and not may_change(organizer, 1) and not may_change(organizer, None)
    assert not may_change(learner, 3) and not may_change(None, 1)
    assert has_role(admin, "organizer") and not has_role(learner, "organizer") and not has_role(None, "learner")


def test_admin_edits_what_the_about_page_shows(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["admin"])
    form = {
        "name": "Pythonistas of Lyon",
        "description": "We learn **Python** together.",
        "rules": "- Be kind\n- No <script>alert(1)</script> spam",
        "contact": "hello@lyon.example.org",
        "csrf_token": csrf_of(client, "/admin/instance"),
    }
    response = client.post("/admin/instance", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert "The instance settings are saved." in client.get("/admin/instance").text
    about = client.get("/about").text
    assert "<h1>About Pythonistas of Lyon</h1>" in about
    assert "<strong>Python</strong>" in about
    assert "<li>Be kind</li>" in about
    assert "<script>" not in about and "&lt;script&gt;" in about
    assert 'href="mailto:hello@lyon.example.org"' in about
    assert "<title>Pythonistas of Lyon</title>" in client.get("/").text


def test_bad_instance_form_names_the_field_and_saves_nothing(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["admin"])
    form = {
        "name": "",
        "description": "x",
        "rules": "",
        "contact": "call me maybe",
        "csrf_token": csrf_of(client, "/admin"),
    }
    response = client.post("/admin/instance", data=form)
    assert response.status_code == 400
    assert "Name: the instance needs a name." in response.text
    assert "Contact: give an email address" in response.text
    assert 'aria-invalid="true"' in response.text
    with session_scope() as db:
        assert instance_info(db)["name"] == "Mechanical MOOC"
        assert instance_info(db)["description"] != "x"


def test_moderators_and_organizers_are_different_roles() -> None:
    admin, organizer, moderator, learner = (
        Account(id=n, role=r) for n, r in ((1, "admin"), (2, "organizer"), (3, "moderator"), (4, "learner"))
    )
    assert has_role(admin, "moderator") and has_role(moderator, "moderator") and has_role(moderator, "learner")
    assert not has_role(moderator, "organizer") and not has_role(organizer, "moderator")
    assert not has_role(learner, "moderator") and not has_role(moderator, "admin")
    assert admin.is_moderator and moderator.is_moderator and not organizer.is_moderator


def test_an_admin_makes_someone_a_moderator(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["admin"])
    page = client.get("/admin/accounts")
    assert '<option value="moderator"' in page.text
    with session_scope() as db:
        lena = db.scalar(select(Account).where(Account.email == people["learner"]))
        assert lena is not None
        lena_id = lena.id
    token = csrf_of(client, "/admin/accounts")
    response = client.post(
        f"/admin/accounts/{lena_id}", data={"action": "role", "role": "moderator", "csrf_token": token}
    )
    assert response.status_code == 200 and "is now moderator" in response.text
    with session_scope() as db:
        assert db.get(Account, lena_id).role == "moderator"  # type: ignore[union-attr]
