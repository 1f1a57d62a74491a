"""Our entities against real Mastodon 4.3 responses (tests/fixtures/mastodon_api): every key
Mastodon sends, we send, with the same JSON type (null allowed where Mastodon's is nullable), and
no key Mastodon does not know."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.api.clients import client_for, png, register_app
from tests.api.conftest import Person
from tests.conftest import FIXTURES

CANNED = FIXTURES / "mastodon_api"
# Dicts whose keys are data, not attributes (image sizes, thumbnail versions).
FREE_KEYS = {"meta", "versions"}


def canned(name: str) -> Any:
    return json.loads((CANNED / f"{name}.json").read_text())


def differences(theirs: Any, ours: Any, path: str = "$") -> list[str]:
    """Where `ours` differs from `theirs` in keys or JSON types."""
    if theirs is None or ours is None:
        return []
    if isinstance(theirs, bool) or isinstance(ours, bool):
        return (
            [] if isinstance(theirs, bool) and isinstance(ours, bool) else [f"{path}: {type(ours).__name__}, not bool"]
        )
    if isinstance(theirs, int | float) and isinstance(ours, int | float):
        return []
    if type(theirs) is not type(ours):
        return [f"{path}: {type(ours).__name__}, not {type(theirs).__name__}"]
    if isinstance(theirs, list):
        return differences(theirs[0], ours[0], f"{path}[0]") if theirs and ours else []
    if not isinstance(theirs, dict) or path.rsplit(".", 1)[-1] in FREE_KEYS:
        return []
    found = [f"{path}.{key}: missing" for key in theirs if key not in ours]
    found += [f"{path}.{key}: not a Mastodon attribute" for key in ours if key not in theirs]
    for key in theirs.keys() & ours.keys():
        found += differences(theirs[key], ours[key], f"{path}.{key}")
    return found


def test_instance_v2_has_mastodons_shape(server_url: str) -> None:
    ours = httpx.get(f"{server_url}/api/v2/instance").json()
    assert differences(canned("instance_v2"), ours) == []


def test_account_status_and_notification_have_mastodons_shape(server_url: str, alice: Person, bob: Person) -> None:
    app = register_app(server_url)
    a, b = client_for(server_url, alice, app), client_for(server_url, bob, app)
    media = b.media_post(png(), mime_type="image/png", description="alt")
    posted = b.status_post("@alice look at #mastodon", media_ids=[media])
    headers = {"Authorization": f"Bearer {a.access_token}"}
    status = httpx.get(f"{server_url}/api/v1/statuses/{posted.id}", headers=headers).json()
    assert differences(canned("status"), status) == []
    account = httpx.get(f"{server_url}/api/v1/accounts/{status['account']['id']}", headers=headers).json()
    for picture in ("avatar", "header"):  # the stand-ins of a profile without pictures exist
        assert httpx.get(account[picture]).status_code == 200
    assert differences(canned("account"), account) == []
    notifications = httpx.get(f"{server_url}/api/v1/notifications", headers=headers).json()
    assert [n["type"] for n in notifications] == ["mention"]
    assert differences(canned("notification"), notifications[0]) == []


def test_the_comparison_catches_a_wrong_type() -> None:
    theirs = canned("account")
    broken = {**theirs, "followers_count": "12", "extra": 1}
    del broken["acct"]
    assert sorted(differences(theirs, broken)) == [
        "$.acct: missing",
        "$.extra: not a Mastodon attribute",
        "$.followers_count: str, not int",
    ]
