"""Remote profiles taken with suspicion, and search: people, hashtags and full text."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from community import graph, search, statuses
from community.people import upsert_remote
from server.floor.errors import Invalid


def test_remote_profiles_are_checked(session: Session, remote) -> None:
    fields = [{"name": f"f{n}", "value": f"<a href='https://x.example/{n}'>x</a>"} for n in range(6)]
    zed = remote(
        "zed",
        display_name="Z" * 500,
        note="<p>" + "n" * 30_000 + "</p>",
        avatar_url="javascript:alert(1)",
        url="https://social.example/@zed",
        fields=[*fields, "junk", {"name": 1, "value": 2}],
    )
    assert len(zed.display_name) == 200 and zed.note == "" and zed.avatar_url is None
    assert zed.url == "https://social.example/@zed" and [f["name"] for f in zed.fields] == ["f0", "f1", "f2", "f3"]
    again = remote("zed", display_name="Zed")
    assert again.id == zed.id and again.display_name == "Zed"
    with pytest.raises(Invalid, match="uri"):
        upsert_remote(session, uri="ftp://social.example/zed", username="zed", domain="social.example")
    with pytest.raises(Invalid, match="domain"):
        upsert_remote(session, uri="http://testserver.localhost/users/x", username="x", domain="testserver.localhost")
    with pytest.raises(Invalid, match="username"):
        upsert_remote(session, uri="https://social.example/u/ab", username="a b", domain="social.example")


def test_search_people_tags_and_statuses(session: Session, person, remote) -> None:
    ann, anna = person("ann"), remote("anna")
    bob = person("bob")
    assert [p.id for p in search.profiles(session, "@an")] == [ann.id, anna.id]
    assert [p.id for p in search.profiles(session, "ann@social")] == [anna.id]
    assert [p.id for p in search.profiles(session, "Bo")] == [bob.id]  # display name Bob
    assert search.profiles(session, "%") == [] and search.profiles(session, "_") == []
    statuses.post(session, ann, "Learning #Python3 and #pythonic ways")
    assert [t.name for t in search.tags(session, "#PYTH")] == ["python3", "pythonic"]
    public = statuses.post(session, ann, "The quick brown fox jumps")
    private = statuses.post(session, bob, "a brown fox, privately", visibility="private")
    assert [s.id for s in search.statuses(session, None, "brown fox")] == [public.id]
    assert [s.id for s in search.statuses(session, bob, "fox")] == [private.id, public.id]
    for hostile in ['"', "fox OR", "NEAR(a b)", "fox*", "'; DROP TABLE posts; --", "", "   "]:
        search.statuses(session, bob, hostile)  # no error, whatever it finds
    statuses.edit(session, public, text="The slow green turtle")
    assert search.statuses(session, None, "fox") == []
    assert [s.id for s in search.statuses(session, None, "turtle")] == [public.id]
    graph.block(session, bob, ann)
    assert search.statuses(session, bob, "turtle") == []
    statuses.delete(session, public)
    assert search.statuses(session, None, "turtle") == []
