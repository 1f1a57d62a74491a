"""Signing up in the browser's forms: modes, rules, confirmation by mail, approval, invites, limits."""

from __future__ import annotations

import re
from email import message_from_string, policy

from sqlalchemy import select
from starlette.testclient import TestClient

from community import registrations
from mail.models import OutgoingMail
from server.floor.accounts import Account
from server.floor.db import session_scope
from tests.web.conftest import PASSWORD, csrf_of, log_in

CONFIRM = re.compile(r"http://testserver\.localhost(/auth/confirm/[A-Za-z0-9_.-]+)")


def set_mode(value: str) -> None:
    with session_scope() as db:
        registrations.set_mode(db, value)


def form(client: TestClient, path: str = "/auth/sign_up", **fields: str) -> dict[str, str]:
    values = {
        "email": "newt@example.org",
        "handle": "newt",
        "display_name": "Newt",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "rules": "1",
        "reason": "",
        "invite": "",
        "csrf_token": csrf_of(client, path),
    }
    return values | fields


def confirmation_path(to: str) -> str:
    with session_scope() as db:
        rows = db.scalars(select(OutgoingMail).where(OutgoingMail.to_addr == to).order_by(OutgoingMail.id)).all()
        texts = [message_from_string(row.message, policy=policy.default) for row in rows]  # type: ignore[misc]
    bodies = [mail.get_body(("plain",)).get_content() for mail in texts]  # type: ignore[union-attr]
    links = [match.group(1) for body in bodies if (match := CONFIRM.search(body))]
    assert links, bodies
    return links[-1]


def mails_to(to: str) -> int:
    with session_scope() as db:
        return len(db.scalars(select(OutgoingMail.id).where(OutgoingMail.to_addr == to)).all())


def test_closed_instance_shows_no_form_and_no_header_link(client: TestClient) -> None:
    page = client.get("/auth/sign_up")
    assert page.status_code == 403 and "takes no sign-ups" in page.text and 'name="handle"' not in page.text
    assert 'href="/auth/sign_up"' not in client.get("/").text
    refused = client.post("/auth/sign_up", data=form(client, "/login"))
    assert refused.status_code == 400 and "takes no sign-ups" in refused.text


def test_open_sign_up_confirm_by_mail_then_log_in(client: TestClient, people: dict[str, str]) -> None:
    set_mode("open")
    assert 'href="/auth/sign_up"' in client.get("/").text
    page = client.get("/auth/sign_up")
    assert "Be kind. Help each other learn." in page.text and 'name="rules"' in page.text
    done = client.post("/auth/sign_up", data=form(client), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/auth/sign_up/sent"
    # Unconfirmed: the right password says what is missing, a wrong one says nothing more.
    token = csrf_of(client)
    early = client.post("/login", data={"email": "newt@example.org", "password": PASSWORD, "csrf_token": token})
    assert early.status_code == 403 and "Confirm your email address first" in early.text
    wrong = client.post("/login", data={"email": "newt@example.org", "password": "not it at all", "csrf_token": token})
    assert wrong.status_code == 400 and "Confirm your email" not in wrong.text
    first = confirmation_path("newt@example.org")
    sent = client.get("/auth/sign_up/sent")
    token = csrf_of(client, "/auth/sign_up/sent")
    again = client.post("/auth/sign_up/resend", data={"email": "newt@example.org", "csrf_token": token})
    assert "the link is on its way again" in again.text and sent.status_code == 200
    client.post("/auth/sign_up/resend", data={"email": "nobody@example.org", "csrf_token": token})
    assert mails_to("nobody@example.org") == 0 and mails_to("newt@example.org") == 2
    path = confirmation_path("newt@example.org")
    assert path.startswith("/auth/confirm/") and first.startswith("/auth/confirm/")
    shown = client.get(path)
    assert shown.status_code == 200 and "newt@example.org" in shown.text
    confirmed = client.post(path, data={"csrf_token": csrf_of(client, path)}, follow_redirects=False)
    assert confirmed.status_code == 303
    assert "@newt" in client.get("/").text  # logged in
    again = client.get(path)
    assert again.status_code == 400 and "used already" in again.text
    with session_scope() as db:
        account = db.scalar(select(Account).where(Account.handle == "newt"))
        assert account is not None and not account.disabled and account.role == "learner"


def test_the_form_refuses_hostile_and_taken_values(client: TestClient, people: dict[str, str]) -> None:
    set_mode("open")
    cases = {
        "handle": ("x" * 5000, "Handle: at most 63 characters"),
        "email": ("not an address", "Email address: enter an address"),
        "display_name": ("N" * 100_000, "Display name: at most 200 characters"),
    }
    for name, (value, message) in cases.items():
        response = client.post("/auth/sign_up", data=form(client, **{name: value}))
        assert response.status_code == 400 and message in response.text, name
    for handle in ("ada", "postmaster", "Ba d!"):
        response = client.post("/auth/sign_up", data=form(client, handle=handle))
        assert response.status_code == 400 and "Handle:" in response.text, handle
    no_rules = form(client)
    del no_rules["rules"]
    response = client.post("/auth/sign_up", data=no_rules)
    assert response.status_code == 400 and "accept the rules" in response.text
    taken = client.post("/auth/sign_up", data=form(client, email=people["learner"]))
    assert taken.status_code == 400 and "exists already" in taken.text


def test_approval_mode_asks_a_reason_and_a_moderator_approves(client: TestClient, people: dict[str, str]) -> None:
    set_mode("approval")
    assert 'name="reason"' in client.get("/auth/sign_up").text
    missing = client.post("/auth/sign_up", data=form(client))
    assert (
        missing.status_code == 400
        and "Why do you want to join" in missing.text
        and "say in a few words" in missing.text
    )
    client.post("/auth/sign_up", data=form(client, reason="I run a study group"), follow_redirects=False)
    path = confirmation_path("newt@example.org")
    waiting = client.post(path, data={"csrf_token": csrf_of(client, path)})
    assert "A moderator" in waiting.text
    token = csrf_of(client)
    refused = client.post("/login", data={"email": "newt@example.org", "password": PASSWORD, "csrf_token": token})
    assert refused.status_code == 403 and "awaits a moderator" in refused.text
    assert client.get("/@newt").status_code == 404  # no profile to see before approval
    log_in(client, people["learner"])
    assert client.get("/admin/sign_ups").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    log_in(client, people["admin"])
    assert 'href="/admin/sign_ups">Approve or reject' in client.get("/notifications").text
    queue = client.get("/admin/sign_ups")
    assert "@newt" in queue.text and "I run a study group" in queue.text
    with session_scope() as db:
        newt = db.scalar(select(Account).where(Account.handle == "newt"))
        assert newt is not None
        newt_id = newt.id
    approved = client.post(
        f"/admin/sign_ups/{newt_id}", data={"action": "approve", "csrf_token": csrf_of(client, "/admin/sign_ups")}
    )
    assert "@newt was approved" in approved.text
    with session_scope() as db:
        assert db.scalar(
            select(OutgoingMail).where(
                OutgoingMail.to_addr == "newt@example.org", OutgoingMail.subject.like("Welcome%")
            )
        )
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    assert log_in(client, "newt@example.org").status_code == 303
    assert client.get("/@newt").status_code == 200


def test_invite_links_from_the_admin_page(client: TestClient, people: dict[str, str]) -> None:
    set_mode("invite")
    assert 'name="handle"' not in client.get("/auth/sign_up").text
    log_in(client, people["admin"])
    made = client.post(
        "/admin/invites", data={"max_uses": "1", "expires": "7", "csrf_token": csrf_of(client, "/admin/invites")}
    )
    link = re.search(r"http://testserver\.localhost(/invite/[A-Za-z0-9_-]+)", made.text)
    assert link, made.text
    bad = client.post(
        "/admin/invites", data={"max_uses": "-3", "expires": "7", "csrf_token": csrf_of(client, "/admin/invites")}
    )
    assert bad.status_code == 400 and "Uses: a whole number" in bad.text
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    page = client.get(link.group(1))
    assert page.status_code == 200 and 'name="handle"' in page.text
    code = link.group(1).rsplit("/", 1)[1]
    assert (
        client.post("/auth/sign_up", data=form(client, link.group(1), invite=code), follow_redirects=False).status_code
        == 303
    )
    # Used up: the page and a replayed form both refuse it.
    assert client.get(link.group(1)).status_code == 404
    again = client.post("/auth/sign_up", data=form(client, "/login", invite=code, email="b@example.org", handle="bee"))
    assert again.status_code == 400 and "used up, expired or was revoked" in again.text


def test_sign_ups_are_limited_per_client(client: TestClient) -> None:
    set_mode("open")
    statuses = []
    for n in range(6):
        response = client.post(
            "/auth/sign_up", data=form(client, email=f"p{n}@example.org", handle=f"p{n}"), follow_redirects=False
        )
        statuses.append(response.status_code)
    assert statuses == [303] * 5 + [429]


def test_admin_sets_the_mode_on_the_instance_page(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["admin"])
    page = client.get("/admin/instance")
    assert '<option value="closed" selected>' in page.text
    values = {
        "name": "Here",
        "description": "A place.",
        "rules": "Be kind.",
        "contact": "",
        "registrations": "approval",
    }
    saved = client.post("/admin/instance", data=values | {"csrf_token": csrf_of(client, "/admin/instance")})
    assert saved.status_code == 200 and '<option value="approval" selected>' in saved.text
    bad = client.post(
        "/admin/instance", data=values | {"registrations": "all", "csrf_token": csrf_of(client, "/admin/instance")}
    )
    assert bad.status_code == 400 and "Who may sign up" in bad.text


def test_two_sign_ups_racing_for_one_handle(app, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    import threading

    set_mode("open")
    # Two client addresses: the per-client limit's lock does not line them up.
    clients = [TestClient(app, base_url="http://testserver.localhost", client=(f"192.0.2.{n}", 5000)) for n in (1, 2)]
    forms = [form(c, email=f"racer{n}@example.org", handle="racer") for n, c in enumerate(clients)]
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def go(n: int) -> None:
        barrier.wait()
        statuses.append(clients[n].post("/auth/sign_up", data=forms[n], follow_redirects=False).status_code)

    threads = [threading.Thread(target=go, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [303, 400]
    with session_scope() as db:
        assert len(db.scalars(select(Account).where(Account.handle == "racer")).all()) == 1
