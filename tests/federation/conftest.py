"""Federation test support: remote actors we hold keys for, and signed POSTs to the real inbox.

Remote hosts are on the internet, so fetching their actor documents is the one thing mocked:
`remote` answers `federation.transport.fetch.get_json` from actor documents built on the real payloads'
actor ids, each with a fresh key this test controls (the payloads are re-signed with it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from federation.entry import inbox, routes
from federation.protocol.crypto import SigningKey, generate_pem
from federation.protocol.signatures import sign_request
from federation.transport import fetch
from server.floor.clock import now
from server.floor.settings import Settings

FIXTURES = Path(__file__).parent.parent / "fixtures" / "activitypub"


def payload(name: str) -> dict[str, Any]:
    """A captured fediverse payload from tests/fixtures/activitypub."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


class Remote:
    """Remote actors: their documents (served to our fetches) and private keys (to sign as them)."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, SigningKey] = {}
        self.fetches: list[str] = []

    def actor(self, actor_id: str, **extra: Any) -> SigningKey:
        """Make `actor_id` a fetchable Mastodon-like Person with a fresh key; its signing key."""
        private, public = generate_pem()
        document = copy.deepcopy(payload("mastodon-person"))
        base = actor_id.rsplit("/users/", 1)[0] if "/users/" in actor_id else actor_id.rsplit("/", 1)[0]
        document |= {
            "id": actor_id,
            "inbox": f"{actor_id}/inbox",
            "outbox": f"{actor_id}/outbox",
            "followers": f"{actor_id}/followers",
            "endpoints": {"sharedInbox": f"{base}/inbox"},
            "publicKey": {"id": f"{actor_id}#main-key", "owner": actor_id, "publicKeyPem": public},
            **extra,
        }
        self.documents[actor_id] = document
        self.keys[actor_id] = SigningKey(key_id=f"{actor_id}#main-key", private_pem=private)
        return self.keys[actor_id]

    def rotate(self, actor_id: str) -> SigningKey:
        """Give `actor_id` a new key (the document served changes with it)."""
        private, public = generate_pem()
        self.documents[actor_id]["publicKey"]["publicKeyPem"] = public
        self.keys[actor_id] = SigningKey(key_id=f"{actor_id}#main-key", private_pem=private)
        return self.keys[actor_id]

    def get_json(self, url: str, key: SigningKey, **_: Any) -> dict[str, Any]:
        """Stands in for a signed GET to the internet."""
        self.fetches.append(url)
        document = self.documents.get(url.split("#", 1)[0])
        if document is None:
            raise fetch.FetchError(f"{url} answered HTTP 404")
        return copy.deepcopy(document)


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch) -> Remote:
    """Remote actors answering our (mocked) fetches."""
    servers = Remote()
    monkeypatch.setattr(fetch, "get_json", servers.get_json)
    return servers


class InstanceClient(TestClient):
    """Our routes over ASGI; ends the test's own transaction before each request and each worker run.

    A test session left mid-transaction after a write holds SQLite's one writer lock and would keep
    the instance from recording anything.
    """

    def __init__(self, app: Starlette, session: Session, base_url: str) -> None:
        super().__init__(app, base_url=base_url)
        self.session = session

    def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Send the request once the test session has let go of the database."""
        self.session.commit()
        return super().request(*args, **kwargs)

    def process_inbox(self) -> int:
        """Run the inbox worker once the test session has let go of the database."""
        self.session.commit()
        return inbox.process_inbox()


@pytest.fixture
def client(settings: Settings, session: Session) -> Iterator[InstanceClient]:
    """The federation routes of the test instance, over ASGI."""
    app = Starlette(routes=routes.routes())
    with InstanceClient(app, session, base_url=settings.url) as test_client:
        yield test_client


def signed_post(
    client: TestClient,
    path: str,
    activity: dict[str, Any] | bytes,
    key: SigningKey,
    at: datetime | None = None,
    body: bytes | None = None,
) -> Any:
    """POST `activity` to `path` signed by `key` (`body` replaces the signed bytes: tampering)."""
    signed = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
    url = str(client.base_url).rstrip("/") + path
    headers = {"Content-Type": "application/activity+json"}
    headers |= sign_request(key, "POST", url, headers, signed, at or now())
    return client.post(path, content=body if body is not None else signed, headers=headers)
