"""The community pages issue as many SQL statements with 3 authors as with 12, and with 10 posts on a
page as with 20 (boosts, favourites, replies, mentions among them): the cards are loaded in batches."""

from __future__ import annotations

from sqlalchemy import event
from starlette.testclient import TestClient

from community import statuses
from community.models import Profile
from server.floor.db import get_engine, session_scope
from server.floor.settings import Settings
from tests.web.community_world import follow, person, post
from tests.web.conftest import log_in


def statements(client: TestClient, path: str) -> int:
    """How many SQL statements the second GET of `path` ran."""
    assert client.get(path).status_code == 200, path
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(get_engine(), "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200, path
    finally:
        event.remove(get_engine(), "before_cursor_execute", count)
    return len(seen)


def chatter(reader: int, authors: list[int], rounds: int) -> int:
    """Posts, replies, boosts and favourites among `authors`, all followed by `reader`; a status id."""
    first = 0
    for author in authors:
        follow(reader, author)
    for number in range(rounds):
        for author in authors:
            status_id = post(author, f"note {number} by {author} @lena #topic")
            first = first or status_id
            with session_scope() as db:
                other = db.get(Profile, authors[(authors.index(author) + 1) % len(authors)])
                status = statuses.get_visible(db, status_id, other)
                assert other is not None
                statuses.favourite(db, other, status)
                statuses.reblog(db, other, status)
            post(author, f"reply {number}", in_reply_to_id=first)
    return first


def pages(first: int) -> dict[str, str]:
    return {
        "local": "/public/local",
        "tag": "/tags/topic",
        "home": "/home",
        "profile": "/@lena",
        "thread": f"/@a0/{first}",
        "notifications": "/notifications",
    }


def test_community_pages_cost_the_same_with_more_data(client: TestClient, settings: Settings) -> None:
    lena = person("lena")
    small = [person(f"a{i}") for i in range(3)]
    first = chatter(lena, small, rounds=2)
    post(lena, "my own")
    log_in(client, "lena@example.org")
    before = {name: statements(client, path) for name, path in pages(first).items()}
    chatter(lena, [person(f"b{i}") for i in range(9)], rounds=3)
    after = {name: statements(client, path) for name, path in pages(first).items()}
    assert after == before, f"statements per page grew with the data: {before} -> {after}"
    assert max(after.values()) <= 30, after
