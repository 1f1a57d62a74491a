"""Against a real instance: unsigned, tampered, stale and replayed POSTs change nothing.

B is a second real instance whose person `bea` signs (the test reads her key from B's database, as
B's worker would); A's inbox must accept her one genuine Follow of A's course exactly once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from federation.protocol.crypto import SigningKey
from federation.protocol.signatures import sign_request
from tests.conftest import FIXTURES
from tests.support.instances import InstanceFactory, query

pytestmark = pytest.mark.slow


def test_unsigned_tampered_stale_and_replayed_posts_are_refused(instance_factory: InstanceFactory) -> None:
    a = instance_factory("a", worker=False)
    b = instance_factory("b", worker=False)
    assert a.cli("course", "import", str(FIXTURES / "courses" / "gentle-python")).returncode == 0
    assert b.cli("user", "create", "bea@example.org", "--password", "correct horse battery").returncode == 0
    bea = f"{b.url}/users/bea"
    assert httpx.get(bea, headers={"Accept": "application/activity+json"}).status_code == 200  # makes her key
    (private_pem,) = query(b, "SELECT private_pem FROM federation_actor_keys WHERE actor = ?", bea)[0]
    key = SigningKey(key_id=f"{bea}#main-key", private_pem=private_pem)
    inbox = f"{a.url}/courses/gentle-python/inbox"
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{bea}#follow-1",
        "type": "Follow",
        "actor": bea,
        "object": f"{a.url}/courses/gentle-python",
    }
    body = json.dumps(activity).encode()

    def signed(content: bytes, at: datetime) -> dict[str, str]:
        headers = {"Content-Type": "application/activity+json"}
        return headers | sign_request(key, "POST", inbox, headers, content, at)

    def inbox_rows() -> int:
        return int(query(a, "SELECT count(*) FROM federation_inbox")[0][0])

    unsigned = httpx.post(inbox, content=body, headers={"Content-Type": "application/activity+json"})
    assert unsigned.status_code == 401
    genuine = signed(body, datetime.now(UTC))
    tampered = body.replace(b"gentle-python", b"gentle-pythons")
    assert httpx.post(inbox, content=tampered, headers=genuine).status_code == 401
    stale = signed(body, datetime.now(UTC) - timedelta(hours=2))
    assert httpx.post(inbox, content=body, headers=stale).status_code == 401
    assert inbox_rows() == 0

    assert httpx.post(inbox, content=body, headers=genuine).status_code == 202
    assert httpx.post(inbox, content=body, headers=genuine).status_code == 202  # a replay: recorded once
    assert inbox_rows() == 1
    assert a.cli("federation", "work").returncode == 0
    assert query(a, "SELECT follower FROM federation_followers") == [(bea,)]
