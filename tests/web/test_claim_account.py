"""A learner claims an account from their page (issue 12, item 1): a handle, a password or none (then
login links by mail), their places linked; email-only learners stay possible."""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

import re

from sqlalchemy import select
from starlette.testclient import TestClient

from courses.models import Enrollment, Run
from courses.signup import admin_enroll
from server.floor.accounts import Account
from server.floor.db import session_scope
from tests.web.conftest import PASSWORD
from tests.web.coursepages import World, outbox_texts, token_on, web, world  # noqa: F401

LOGIN_LINK = re.compile(r"http://testserver\.localhost(/login/once/[A-Za-z0-9_-]+)")


def enroll(run: str, email: str, confirmed: bool = True) -> str:
    with session_scope() as db:
        place = admin_enroll(db, db.scalar(select(Run).where(Run.handle == run)), email, name="Lee")
        if not confirmed:
            place.confirmed_at, place.status = None, "pending"
        return place.token


def claim_form(web: TestClient, token: str, **values: str) -> dict[str, str]:
    form = {"handle": "lee", "display_name": "Lee", "how": "password", "password": PASSWORD, "confirm": PASSWORD}
    return form | {"rules": "1", "csrf_token": token_on(web, f"/me/{token}/claim")} | values


def places(email: str) -> list[int | None]:
    with session_scope() as db:
        return list(db.scalars(select(Enrollment.account_id).where(Enrollment.email == email)))


def test_a_confirmed_learner_claims_an_account_with_a_password(world: World, web: TestClient) -> None:
    token = enroll(world.run, "lee@example.org")
    page = web.get(f"/me/{token}")
    assert "Claim an account here" in page.text and f'href="/me/{token}/claim"' in page.text
    assert places("lee@example.org") == [None]  # email-only until they claim
    taken = web.post(f"/me/{token}/claim", data=claim_form(web, token, handle=world.run))
    assert taken.status_code == 400 and f"@{world.run} is taken" in taken.text  # the shared namespace
    short = web.post(f"/me/{token}/claim", data=claim_form(web, token, password="short", confirm="short"))
    assert short.status_code == 400 and "at least 8 characters" in short.text
    done = web.post(f"/me/{token}/claim", data=claim_form(web, token), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/settings/profile"
    assert "@lee" in web.get("/settings/profile").text  # logged in
    with session_scope() as db:
        account = db.scalar(select(Account).where(Account.handle == "lee"))
        assert account is not None and not account.disabled and account.email == "lee@example.org"
        assert places("lee@example.org") == [account.id]
    page = web.get(f"/me/{token}")
    assert "Claim an account here" not in page.text and "linked to your account" in page.text
    again = web.post(f"/me/{token}/claim", data=claim_form(web, token, handle="lee2"))
    assert again.status_code == 400 and "linked to an account already" in again.text


def test_passwordless_claim_then_a_login_link_by_mail(world: World, web: TestClient) -> None:
    token = enroll(world.run, "pat@example.org")
    done = web.post(
        f"/me/{token}/claim", data=claim_form(web, token, handle="pat", how="link", password="", confirm="")
    )
    assert done.status_code == 200 and "ask for a login link" in done.text
    web.post("/logout", data={"csrf_token": token_on(web, "/")})
    asked = web.post("/login/mail", data={"email": "pat@example.org", "csrf_token": token_on(web, "/login/mail")})
    assert "a login link is on its way" in asked.text
    unknown = web.post("/login/mail", data={"email": "nobody@example.org", "csrf_token": token_on(web, "/login/mail")})
    assert "a login link is on its way" in unknown.text and outbox_texts("nobody@example.org") == []
    link = LOGIN_LINK.search(outbox_texts("pat@example.org")[-1])
    assert link
    logged = web.post(link.group(1), data={"csrf_token": token_on(web, link.group(1))}, follow_redirects=False)
    assert logged.status_code == 303
    assert "@pat" in web.get("/settings/profile").text or "pat" in web.get("/").text


def test_no_claim_before_the_signup_is_confirmed_nor_for_a_known_address(world: World, web: TestClient) -> None:
    token = enroll(world.run, "una@example.org", confirmed=False)
    assert "Claim an account here" not in web.get(f"/me/{token}").text
    assert web.get(f"/me/{token}/claim", follow_redirects=False).status_code == 303
    refused = web.post(f"/me/{token}/claim", data=claim_form(web, token, handle="una"))
    assert refused.status_code == 400 and "confirm your signup first" in refused.text
    # Olga the organizer is also a learner: her address has an account, she logs in to link.
    olga = enroll(world.run, world.owner)
    page = web.get(f"/me/{olga}")
    assert "Claim an account here" not in page.text and "Log in" in page.text
    web.post("/login", data={"email": world.owner, "password": PASSWORD, "csrf_token": token_on(web, "/login")})
    linked = web.post(f"/me/{olga}/claim/link", data={"csrf_token": token_on(web, f"/me/{olga}")})
    assert "1 place linked" in linked.text and places(world.owner)[0] is not None


def test_hostile_claim_values(world: World, web: TestClient) -> None:
    token = enroll(world.run, "ho@example.org")
    for values, message in (
        ({"handle": "x" * 10_000}, "Handle:"),
        ({"handle": "<script>"}, "Handle: use only"),
        ({"handle": "postmaster"}, "is taken"),
        ({"display_name": "n" * 5000}, "Display name: at most 200"),
        ({"rules": ""}, "accept the rules"),
    ):
        response = web.post(f"/me/{token}/claim", data=claim_form(web, token, **values))
        assert response.status_code == 400 and message in response.text, values
    assert places("ho@example.org") == [None]
    assert web.post("/me/not-a-token/claim", data=claim_form(web, token)).status_code == 404


def test_an_unconfirmed_sign_up_of_the_address_does_not_block_the_learner(world: World, web: TestClient) -> None:
    from community import registrations

    token = enroll(world.run, "kim@example.org")
    with session_scope() as db:
        registrations.set_mode(db, "open")
        form = registrations.SignUp("kim@example.org", "not-kim", None, rules_accepted=True)
        registrations.register(db, form)
    assert "Claim an account here" in web.get(f"/me/{token}").text
    done = web.post(f"/me/{token}/claim", data=claim_form(web, token, handle="kim"), follow_redirects=False)
    assert done.status_code == 303
    with session_scope() as db:
        assert db.scalar(select(Account).where(Account.handle == "not-kim")) is None
        kim = db.scalar(select(Account).where(Account.email == "kim@example.org"))
        assert kim is not None and kim.handle == "kim" and not kim.disabled
