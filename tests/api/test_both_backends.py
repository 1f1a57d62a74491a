"""The client API on SQLite and PostgreSQL (the `settings` fixture; PostgreSQL required in CI): the
whole app in-process behind Starlette's TestClient, authorized by the same HTTP-client code flow
(login form, consent form, /oauth/token), then the main calls an app makes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from server.floor.accounts import create_account
from server.floor.db import session_scope
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.api.clients import png
from tests.api.conftest import OOB, PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://testserver.localhost") as client:
        yield client


def token_for(client: TestClient, handle: str) -> dict[str, str]:
    """Make `handle`, log in with the form, approve an app on the consent page, exchange the code."""
    with session_scope() as db:
        create_account(db, f"{handle}@example.org", PASSWORD, handle=handle)
    app = client.post(
        "/api/v1/apps", data={"client_name": "t", "redirect_uris": OOB, "scopes": "read write follow"}
    ).json()
    client.cookies.clear()
    token = CSRF.search(client.get("/login").text)
    assert token
    client.post("/login", data={"email": f"{handle}@example.org", "password": PASSWORD, "csrf_token": token.group(1)})
    query = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": OOB, "scope": "read write follow"}
    page = client.get("/oauth/authorize?" + urlencode(query))
    form = {**query, "decision": "approve", "csrf_token": CSRF.search(page.text).group(1)}  # type: ignore[union-attr]
    code = re.search(r'id="oob-code"[^>]*value="([^"]+)"', client.post("/oauth/authorize", data=form).text)
    assert code
    client.cookies.clear()
    answer = client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code.group(1), "client_id": app["client_id"],
              "client_secret": app["client_secret"], "redirect_uri": OOB},
    )  # fmt: skip
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_the_main_calls_on_both_databases(app_client: TestClient) -> None:
    c = app_client
    ann, ben = token_for(c, "ann"), token_for(c, "ben")
    ben_id = c.get("/api/v1/accounts/verify_credentials", headers=ben).json()["id"]
    assert c.post(f"/api/v1/accounts/{ben_id}/follow", headers=ann).json()["following"] is True
    media = c.post(
        "/api/v2/media", files={"file": ("a.png", png(), "image/png")}, data={"description": "alt"}, headers=ben
    )
    assert media.status_code == 200, media.text
    posted = c.post(
        "/api/v1/statuses",
        json={"status": "@ann studying #algebra tonight", "media_ids": [media.json()["id"]]},
        headers=ben,
    ).json()
    assert posted["media_attachments"][0]["description"] == "alt" and posted["tags"][0]["name"] == "algebra"
    reply = c.post("/api/v1/statuses", data={"status": "@ben count me in", "in_reply_to_id": posted["id"]}, headers=ann)
    assert reply.status_code == 200
    assert c.post(f"/api/v1/statuses/{posted['id']}/reblog", headers=ann).json()["reblog"]["reblogged"] is True
    assert c.post(f"/api/v1/statuses/{posted['id']}/favourite", headers=ann).json()["favourited"] is True
    home = c.get("/api/v1/timelines/home?limit=2", headers=ann)
    assert [s["id"] for s in home.json()][-1] in {posted["id"], reply.json()["id"]}
    assert 'rel="next"' in home.headers["link"]
    assert [n["type"] for n in c.get("/api/v1/notifications", headers=ann).json()] == ["mention"]
    assert {n["type"] for n in c.get("/api/v1/notifications", headers=ben).json()} == {
        "mention",
        "follow",
        "reblog",
        "favourite",
    }
    found = c.get("/api/v2/search", params={"q": "algebra", "type": "statuses"}, headers=ann).json()
    assert [s["id"] for s in found["statuses"]] == [posted["id"]]
    tag = c.get("/api/v1/timelines/tag/algebra", headers=ann).json()
    assert [s["id"] for s in tag] == [posted["id"]]
    context = c.get(f"/api/v1/statuses/{posted['id']}/context", headers=ann).json()
    assert [s["id"] for s in context["descendants"]] == [reply.json()["id"]]
    edited = c.put(f"/api/v1/statuses/{posted['id']}", data={"status": "@ann studying #algebra at eight"}, headers=ben)
    assert edited.status_code == 200 and edited.json()["edited_at"]
    assert len(c.get(f"/api/v1/statuses/{posted['id']}/history", headers=ann).json()) == 2
    gone = c.delete(f"/api/v1/statuses/{posted['id']}", headers=ben)
    assert gone.status_code == 200 and gone.json()["text"] == "@ann studying #algebra at eight"
    assert c.get(f"/api/v1/statuses/{posted['id']}", headers=ann).status_code == 404
