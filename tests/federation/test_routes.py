"""Actor documents (only for ActivityPub Accept), WebFinger, NodeInfo, host-meta, authorized fetch."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from courses.models import Course, Run, StudyGroup
from federation.entry import routes
from federation.protocol.crypto import load_public_key
from federation.protocol.signatures import sign_request
from server.floor import urls
from server.floor.accounts import create_account
from server.floor.clock import now
from server.floor.config import use_settings
from server.floor.settings import Settings
from tests.federation.conftest import Remote

AP = {"Accept": "application/activity+json"}
LD = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}


@pytest.fixture
def world(session: Session) -> None:
    create_account(session, "ada@example.org", handle="ada")
    course = Course(slug="gentle-python", title="Gentle Python", summary="Learn Python together.")
    session.add(course)
    session.flush()
    run = Run(handle="gentle-python-2027", course_id=course.id, version_number=1, start_date=date(2027, 1, 4))
    session.add(run)
    session.flush()
    session.add(StudyGroup(run_id=run.id, number=1, handle="gentle-python-2027-g1", name="Group 1"))
    session.commit()


@pytest.fixture
def site(settings: Settings) -> TestClient:
    """Our routes first, then a stand-in for the web package's HTML pages at the same paths."""

    async def page(request: object) -> PlainTextResponse:
        return PlainTextResponse("<html>a page for people</html>")

    web = [Route(path, page) for path in ("/users/{h}", "/courses/{h}", "/runs/{h}", "/groups/{h}")]
    return TestClient(Starlette(routes=[*routes.routes(), *web]), base_url=settings.url)


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/actor", "Application"), ("/users/ada", "Person"), ("/courses/gentle-python", "Service"),
     ("/runs/gentle-python-2027", "Group"), ("/groups/gentle-python-2027-g1", "Group")],
)  # fmt: skip
def test_actor_documents(site: TestClient, world: None, path: str, kind: str) -> None:
    response = site.get(path, headers=AP if kind != "Group" else LD)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/activity+json")
    doc = response.json()
    actor = urls.absolute(path)
    assert doc["type"] == kind and doc["id"] == actor
    assert doc["inbox"] == f"{actor}/inbox" and doc["outbox"] == f"{actor}/outbox"
    assert doc["followers"] == f"{actor}/followers" and doc["endpoints"]["sharedInbox"] == urls.shared_inbox()
    assert doc["publicKey"]["id"] == f"{actor}#main-key" and doc["publicKey"]["owner"] == actor
    assert load_public_key(doc["publicKey"]["publicKeyPem"]).key_size == 2048


# Terms of the ActivityStreams and security vocabularies an actor document may use without defining them.
_AS_TERMS = {
    "@context", "id", "type", "name", "summary", "url", "preferredUsername", "inbox", "outbox", "followers",
    "following", "publicKey", "endpoints", "sharedInbox", "attributedTo", "icon", "image", "published", "tag",
    "attachment", "content", "mediaType", "to", "cc", "audience", "owner", "publicKeyPem", "alsoKnownAs", "movedTo",
}  # fmt: skip


@pytest.mark.parametrize("path", ["/actor", "/users/ada", "/courses/gentle-python", "/runs/gentle-python-2027"])
def test_every_term_of_an_actor_is_defined_by_its_context(site: TestClient, world: None, path: str) -> None:
    """A JSON-LD reader drops an undefined term: Mastodon's own actors define manuallyApprovesFollowers,
    discoverable and indexable in their @context (app/lib/activitypub/adapter.rb, CONTEXT_EXTENSION_MAP)."""
    doc = site.get(path, headers=AP).json()
    defined = set(_AS_TERMS)
    for entry in doc["@context"]:
        if isinstance(entry, dict):
            defined |= set(entry)
    assert doc["manuallyApprovesFollowers"] is False and "discoverable" in doc
    assert set(doc) <= defined, f"undefined in @context: {sorted(set(doc) - defined)}"


def test_browsers_get_the_web_page(site: TestClient, world: None) -> None:
    response = site.get("/courses/gentle-python", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.text == "<html>a page for people</html>"


def test_unknown_actor_is_404(site: TestClient, world: None) -> None:
    assert site.get("/users/nobody", headers=AP).status_code == 404


def test_followers_collection_counts(site: TestClient, world: None) -> None:
    doc = site.get("/courses/gentle-python/followers", headers=AP).json()
    assert doc["type"] == "OrderedCollection" and doc["totalItems"] == 0


@pytest.mark.parametrize("name", ["ada", "gentle-python", "gentle-python-2027", "gentle-python-2027-g1"])
def test_webfinger_one_namespace(site: TestClient, world: None, settings: Settings, name: str) -> None:
    response = site.get("/.well-known/webfinger", params={"resource": f"acct:{name}@{settings.host}"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/jrd+json")
    self_link = next(link for link in response.json()["links"] if link["rel"] == "self")
    assert self_link["type"] == "application/activity+json"
    assert self_link["href"].endswith("/" + name)


def test_webfinger_errors(site: TestClient, world: None, settings: Settings) -> None:
    assert site.get("/.well-known/webfinger", params={"resource": "acct:nobody@" + settings.host}).status_code == 404
    assert site.get("/.well-known/webfinger", params={"resource": "acct:ada@elsewhere.example"}).status_code == 404
    assert site.get("/.well-known/webfinger", params={"resource": "ada"}).status_code == 400
    assert site.get("/.well-known/webfinger").status_code == 400


def test_nodeinfo_and_host_meta(site: TestClient, world: None) -> None:
    links = site.get("/.well-known/nodeinfo").json()["links"]
    assert links[0]["rel"] == "http://nodeinfo.diaspora.software/ns/schema/2.1"
    info = site.get("/nodeinfo/2.1").json()
    assert info["version"] == "2.1" and info["protocols"] == ["activitypub"]
    assert info["software"]["name"] == "mechmooc" and info["usage"]["users"]["total"] == 1
    assert info["metadata"]["courses"] == 1 and info["metadata"]["runs"] == 1
    assert "lrdd" in site.get("/.well-known/host-meta").text


def _gotosocial_accepts_nodeinfo(content_type: str) -> bool:
    """GoToSocial's rule (internal/api/util/mime.go, NodeInfo2ContentType): application/json, alone or
    with the schema 2.0 profile; a charset other than utf-8, or any other profile, is refused."""
    parts = [part.strip() for part in content_type.split(";")]
    charsets = [part for part in parts if part.startswith("charset=")]
    if charsets and charsets[0] != "charset=utf-8":
        return False
    parts = [part for part in parts if not part.startswith("charset=")]
    profiles = {
        'profile="http://nodeinfo.diaspora.software/ns/schema/2.0#"',
        "profile=http://nodeinfo.diaspora.software/ns/schema/2.0#",
    }
    return parts[0] == "application/json" and (len(parts) == 1 or (len(parts) == 2 and parts[1] in profiles))


def test_nodeinfo_is_served_as_gotosocial_and_mastodon_read_it(site: TestClient, world: None) -> None:
    links = site.get("/.well-known/nodeinfo").json()["links"]
    assert [link["href"].rsplit("/", 1)[1] for link in links] == ["2.1", "2.0"]
    for version in ("2.1", "2.0"):
        response = site.get(f"/nodeinfo/{version}")
        assert response.status_code == 200 and response.json()["version"] == version
        assert _gotosocial_accepts_nodeinfo(response.headers["content-type"]), response.headers["content-type"]
    # The 2.0 schema's software object has only name and version.
    assert set(site.get("/nodeinfo/2.0").json()["software"]) == {"name", "version"}
    # Nobody can make themselves an account here (an admin makes them): say so.
    assert site.get("/nodeinfo/2.1").json()["openRegistrations"] is False
    assert not _gotosocial_accepts_nodeinfo(
        'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"'
    )


def test_authorized_fetch_requires_signed_gets(
    site: TestClient, world: None, settings: Settings, remote: Remote
) -> None:
    use_settings(replace(settings, authorized_fetch=True))
    try:
        assert site.get("/courses/gentle-python", headers=AP).status_code == 401
        assert site.get("/actor", headers=AP).status_code == 200  # the instance actor stays fetchable
        key = remote.actor("https://social.example/users/bob")
        url = urls.course("gentle-python")
        headers = AP | sign_request(key, "GET", url, AP | {"Host": settings.host}, None, now())
        assert site.get("/courses/gentle-python", headers=headers).status_code == 200
    finally:
        use_settings(settings)


def test_outbox_lists_public_posts_as_creates(site: TestClient, world: None, session: Session) -> None:
    from courses.models import Post

    course = urls.course("gentle-python")
    for n, visibility in enumerate(["public", "public", "group"]):
        session.add(
            Post(ap_id=urls.post(100 + n), kind="announcement" if visibility == "public" else "group",
                 source="local", author_actor=course, html=f"<p>news {n}</p>", visibility=visibility)
        )  # fmt: skip
    session.commit()
    outbox = site.get("/courses/gentle-python/outbox", headers=AP).json()
    assert outbox["totalItems"] == 2
    assert [item["type"] for item in outbox["orderedItems"]] == ["Create", "Create"]
    assert {item["object"]["content"] for item in outbox["orderedItems"]} == {"<p>news 0</p>", "<p>news 1</p>"}
