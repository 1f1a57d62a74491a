"""Hostile addresses and forms on the community pages answer 4xx, never 500."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from server.floor.settings import Settings
from tests.web.community_world import person, post
from tests.web.conftest import csrf_of, log_in

PATHS = [
    "/@",
    "/@%00",
    "/@" + "a" * 5000,
    "/@lena@",
    "/@@host.example",
    "/@lena@host@other",
    "/@lena/99999999999999999999999",
    "/@lena/0",
    "/@lena/1/history",
    "/@lena?max_id=-1",
    "/@lena?max_id=99999999999999999999",
    "/public?min_id=1e9",
    "/tags/" + "x" * 300,
    "/tags/%F0%9F%98%80",
    "/tags/a%2Fb",
    "/search?q=" + "%00" * 50,
    "/search?q=" + "a" * 5000,
    "/search?q=%22%27()*:^-",
    "/timelines/new?feed=nope&since_id=1",
    "/timelines/new?feed=tag:&since_id=1",
    "/timelines/new?feed=group:nope&since_id=1",
    "/posts/99999999999999999999",
    "/notifications?type=%00",
    "/groups/nope/timeline",
    "/compose?in_reply_to=99999999999",
    "/compose?in_reply_to=abc",
]


@pytest.mark.parametrize("signed_in", [False, True])
def test_hostile_addresses_never_fail(client: TestClient, settings: Settings, signed_in: bool) -> None:
    lena = person("lena")
    post(lena, "hello")
    if signed_in:
        log_in(client, "lena@example.org")
    for path in PATHS:
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code < 500, f"{path}: {answer.status_code}"


def test_hostile_forms_never_fail(client: TestClient, settings: Settings) -> None:
    lena = person("lena")
    first = post(lena, "hello")
    log_in(client, "lena@example.org")
    token = csrf_of(client, "/compose")
    forms = [
        ("/compose", {"status": "x", "visibility": "everyone"}),
        ("/compose", {"status": "x", "language": "<script>"}),
        ("/compose", {"status": "x", "in_reply_to": "99999999999999999999999"}),
        ("/compose", {"status": "x", "group": "not-mine"}),
        ("/compose", {"status": "\x00" * 10}),
        ("/compose", {"status": "@" * 3000}),
        ("/compose", {"status": "x", "spoiler_text": "y" * 5000}),
        (f"/@lena/{first}/edit", {"status": ""}),
        (f"/@lena/{first}/favourite", {"next": "https://evil.example/"}),
        ("/@nobody/follow", {}),
        ("/@lena@nowhere.invalid/follow", {}),
        ("/follow-requests/1/approve", {}),
        ("/tags/%00/follow", {}),
        ("/@lena/remote-follow", {"handle": "@x@" + "h" * 400}),
    ]
    for path, data in forms:
        answer = client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert answer.status_code < 500, f"{path} {data}: {answer.status_code}"
        if "next" in data:
            assert answer.headers["location"].startswith("/"), answer.headers["location"]
