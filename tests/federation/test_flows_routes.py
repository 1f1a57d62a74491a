"""The flows' routes over ASGI: our @context, a course's forks collection, local posts as Notes."""

from __future__ import annotations

from sqlalchemy.orm import Session

from courses import forks as course_forks
from courses.models import Post
from federation.protocol.signatures import sign_request
from server.floor import urls
from server.floor.clock import now
from tests.federation.conftest import InstanceClient, Remote
from tests.federation.flows_support import course_and_run

AP = {"Accept": "application/activity+json"}


def test_context_and_forks_collection(client: InstanceClient, session: Session) -> None:
    course, _run = course_and_run(session)
    course_forks.record_fork(session, course, "https://b.example/courses/gp", "GP on B")
    context = client.get("/ns")
    assert context.status_code == 200 and context.json()["@context"]["units"]["@id"] == "mm:units"
    forks = client.get(f"/courses/{course.slug}/forks", headers=AP)
    assert forks.status_code == 200 and forks.json()["orderedItems"][0]["id"] == "https://b.example/courses/gp"
    assert client.get("/courses/nope/forks", headers=AP).status_code == 404


def test_posts_are_notes_public_announcements_open_others_to_addressed_servers(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    course, run = course_and_run(session)
    public = Post(kind="announcement", source="local", author_actor=urls.course(course.slug), html="<p>New run</p>")
    private = Post(kind="group", source="email", author_actor=urls.run(run.handle), html="<p>Hello Bea</p>")
    session.add_all([public, private])
    session.flush()
    public.ap_id, private.ap_id = urls.post(public.id), urls.post(private.id)
    note = client.get(f"/posts/{public.id}", headers=AP)
    assert note.status_code == 200 and note.json()["type"] == "Note" and note.json()["content"] == "<p>New run</p>"
    assert client.get(f"/posts/{private.id}", headers=AP).status_code == 401
    key = remote.actor("https://social.example/users/fetcher")
    url = f"{client.base_url}/posts/{private.id}".replace("//posts", "/posts")
    headers = AP | sign_request(key, "GET", url, AP, None, now())
    # Signed, but its server was not addressed: the same answer as for a post that does not exist.
    assert client.get(f"/posts/{private.id}", headers=headers).status_code == 404
    assert client.get("/posts/999", headers=AP).status_code == 404


def test_published_versions_are_articles(client: InstanceClient, session: Session) -> None:
    course, _run = course_and_run(session)
    article = client.get(f"/courses/{course.slug}/versions/1", headers=AP)
    assert article.status_code == 200
    body = article.json()
    assert body["type"] == "Article" and body["version"] == 1 and body["name"] == course.title
    assert body["id"] == f"{urls.course(course.slug)}/versions/1" and len(body["units"]) == len(course.units)
    assert client.get(f"/courses/{course.slug}/versions/9", headers=AP).status_code == 404
