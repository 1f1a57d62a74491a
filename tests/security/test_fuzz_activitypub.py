"""Random and hostile ActivityStreams documents: the inbox answers 2xx/4xx, handlers record an outcome.

Documents start from the real payloads in tests/fixtures/activitypub and one of our own course
actors, and are mutated: keys dropped, values swapped for other types (lists where strings are
expected, objects, numbers, huge strings), non-http URLs, ids on other origins and on ours, deep
nesting, unicode. They go (a) through real signed POSTs to the ASGI inbox and the inbox worker,
(b) straight to the handlers, as the worker runs them, and (c) to vocabulary parsing and sanitizing.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.course_file import parse_course
from courses.models import Course, Run, StudyGroup
from federation.entry.handlers import Inbound, dispatch
from federation.entry.prefetch import gather, handed_in
from federation.models import InboxActivity
from federation.protocol.sanitize import sanitize_html, sanitize_text
from federation.protocol.vocabulary import CourseIds, course_fields, snapshot_from_course, version_of
from server.floor.errors import Invalid, MechMoocError
from tests.federation.conftest import FIXTURES, InstanceClient, Remote, client, remote, signed_post
from tests.federation.flows_support import course_and_run, remote_person
from tests.security.fuzzing import FUZZ, FUZZ_PURE, bounded, huge, nasty_text
from tests.security.test_fuzz_course_files import FILES

__all__ = ["client", "remote"]  # the fixtures, imported for pytest

PAYLOADS = {path.stem: json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))}
LOCAL = "http://testserver.localhost"
ACTOR = "https://social.example/users/fuzz"  # a remote actor whose key the tests hold

# Our own course actor, as another instance would serve it (the base of snapshot_from_course input).
_SNAPSHOT = dataclasses.asdict(parse_course(FILES))
_SNAPSHOT["units"] = [unit | {"position": index} for index, unit in enumerate(_SNAPSHOT["units"])]
_IDS = CourseIds(course=f"{LOCAL}/courses/gentle-python", url=f"{LOCAL}/courses/gentle-python", forks="f", version=1)
COURSE_DOCUMENT = course_fields(_SNAPSHOT, _IDS) | {"version": 1}

# Placeholders for the local objects of the instance under test, replaced once it exists.
RUN, GROUP = "%RUN%", "%GROUP%"
URLS = [
    "javascript:alert(1)", "file:///etc/passwd", "data:text/html,<script>alert(1)</script>", "http://127.0.0.1:22/",
    "http://[::1]/", "https://evil.example/users/x", "https://social.example/users/other", "ftp://x/", "//x", "",
    "https://social.example/users/fuzz#main-key", f"{LOCAL}/courses/gentle-python", f"{LOCAL}/actor",
    f"{LOCAL}/posts/1", f"{LOCAL}/courses/gentle-python/units/welcome", RUN, GROUP, ACTOR, "https://ünïcödé.example/ü",
    "https://www.w3.org/ns/activitystreams#Public",
]  # fmt: skip
TYPES = [
    "Create", "Update", "Delete", "Follow", "Accept", "Reject", "Undo", "Like", "Announce", "Flag", "Block", "Move",
    "Join", "Leave", "Note", "Article", "Page", "Person", "Group", "Service", "Tombstone", "EmojiReact", "",
]  # fmt: skip

scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    nasty_text,
    st.sampled_from(URLS + TYPES),
    huge(low=1_000, high=200_000),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["id", "type", "actor", "object", "href", "name", "to", "content"]), inner, max_size=4
        ),  # fmt: skip
    ),
    max_leaves=8,
)
# (what to do, which place in the document, the new value)
mutation = st.tuples(st.sampled_from(["drop", "replace", "replace", "nest", "listify", "type"]), st.integers(0, 10**6),
                     value)  # fmt: skip


def _places(document: Any, path: tuple[Any, ...] = (), limit: int = 400) -> list[tuple[Any, ...]]:
    """Every path to a value inside `document` (dict keys and list indexes), the root first."""
    places, todo = [path], [(document, path)]
    while todo and len(places) < limit:
        current, at = todo.pop()
        items = (
            current.items() if isinstance(current, dict) else enumerate(current) if isinstance(current, list) else []
        )
        for key, child in items:
            places.append((*at, key))
            todo.append((child, (*at, key)))
    return places


def _mutate(document: dict[str, Any], mutations: list[tuple[str, int, Any]]) -> Any:
    """`document` changed by each mutation in turn (a copy)."""
    document = json.loads(json.dumps(document))
    for kind, seed, new in mutations:
        places = _places(document)
        path = places[seed % len(places)]
        if not path:
            continue
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        key, old = path[-1], parent[path[-1]]
        if kind == "drop" and isinstance(parent, dict):
            del parent[key]
        elif kind == "replace":
            parent[key] = new
        elif kind == "nest":
            for _ in range(seed % 60):
                old = {"type": "Create", "id": f"https://evil.example/{seed}", "object": old}
            parent[key] = old
        elif kind == "listify":
            parent[key] = [old, new, old]
        elif kind == "type" and isinstance(old, dict):
            old["type"] = TYPES[seed % len(TYPES)]
    return document


TARGETS = [f"{LOCAL}/courses/gentle-python", RUN, GROUP, f"{LOCAL}/posts/1", f"{LOCAL}/actor", ACTOR]


def _retarget(document: dict[str, Any], target: str, where: str) -> dict[str, Any]:
    """The payload pointed at one of our objects (else nearly every handler has nothing to do)."""
    document = json.loads(json.dumps(document))
    inner = document.get("object")
    if where == "object":
        document["object"] = target
    elif where == "object.id" and isinstance(inner, dict):
        inner["id"] = target
    elif where == "object.object" and isinstance(inner, dict):
        inner["object"] = target
    elif where in {"to", "cc", "target"}:
        document[where] = [target] if where != "target" else target
        if isinstance(inner, dict) and where != "target":
            inner[where] = [target]
    return document


payloads = st.builds(
    _retarget,
    st.sampled_from(sorted(PAYLOADS)).map(PAYLOADS.get),
    st.sampled_from(TARGETS),
    st.sampled_from(["object", "object.id", "object.object", "to", "cc", "target", "none"]),
)
documents = st.builds(_mutate, payloads, st.lists(mutation, max_size=4))
course_documents = st.builds(_mutate, st.just(COURSE_DOCUMENT), st.lists(mutation, min_size=1, max_size=5))


# --- (c) vocabulary and sanitizing: pure functions --------------------------------------------------------


@FUZZ_PURE
@given(document=st.one_of(course_documents, documents))
@example(document=COURSE_DOCUMENT | {"groupBy": 7})
@example(document=COURSE_DOCUMENT | {"lineage": 1})
@example(document=COURSE_DOCUMENT | {"tag": 1})
@example(document=COURSE_DOCUMENT | {"resources": [{"type": "Link", "extra": [1]}]})
@example(document=COURSE_DOCUMENT | {"units": [{"source": {"content": "x"}, "day": 1, "slug": "a", "extra": [1]}]})
def test_course_documents_become_a_snapshot_or_invalid(document: Any) -> None:
    if not isinstance(document, dict):
        return
    with bounded():
        try:
            snapshot = snapshot_from_course(document)
        except Invalid as error:
            assert str(error)
        else:
            assert isinstance(snapshot["units"], list)
            assert all(isinstance(unit["extra"], dict) for unit in snapshot["units"])
            assert isinstance(snapshot["extra"], dict) and isinstance(snapshot["questions"], list)
        version_of(document)


html_pieces = st.sampled_from([
    "<p>", "</p>", "<script>alert(1)</script>", '<a href="javascript:alert(1)">x</a>', "<img src=x onerror=1>",
    "<!--", "-->", "<![CDATA[", "<svg><style>", "&lt;", "&#0;", "&#x110000;", "<div ", '"', "<br/>", "<b><i>",
    '<a href="https://x.example" class="mention evil">', "\x00", "𝕳",
])  # fmt: skip
hostile_html = st.one_of(
    st.lists(st.one_of(html_pieces, st.text(max_size=10)), max_size=40).map("".join),
    st.builds(lambda n: "<b>" * n + "x" + "</b>" * n, st.integers(1, 50_000)),
    st.builds(lambda n: "<p>" * n, st.integers(1, 100_000)),
    huge(html_pieces, low=10_000, high=300_000),
)


@FUZZ_PURE
@given(fragment=hostile_html)
def test_sanitize_keeps_no_script_in_bounded_time(fragment: str) -> None:
    with bounded():
        cleaned, text = sanitize_html(fragment), sanitize_text(fragment)
    assert isinstance(text, str)
    lowered = cleaned.lower()
    assert "<script" not in lowered and "javascript:" not in lowered and "onerror" not in lowered


# --- (b) handlers, as the inbox worker runs them ------------------------------------------------------------


def _local(document: Any, session: Session) -> Any:
    """The document with the placeholders pointing at the instance's own run and study group."""
    run = session.scalars(select(Run.handle)).first() or "none"
    group = session.scalars(select(StudyGroup.handle)).first() or "none"
    text = json.dumps(document).replace(RUN, f"{LOCAL}/runs/{run}").replace(GROUP, f"{LOCAL}/groups/{group}")
    return json.loads(text)


def _world(session: Session, remote: Remote) -> None:
    """A course with a run, and the remote actor we sign as, cached and fetchable."""
    if session.scalar(select(Course.id)) is None:
        course_and_run(session)
        remote_person(session, "fuzz")
        session.commit()
    if ACTOR not in remote.keys:
        remote.actor(ACTOR)


def _handled(session: Session, activity: dict[str, Any], recipient: str | None) -> None:
    inbound = Inbound(session=session, activity=activity, actor=ACTOR, recipient=recipient, activity_id="fuzz")
    try:
        fetched = gather(inbound)  # what the handlers need, fetched before their transaction, as the worker does
        with session.begin_nested():
            outcome = dispatch(handed_in(inbound, fetched))
    except MechMoocError as error:  # a clear error: the worker records it as the outcome
        assert str(error)
        return
    except RuntimeError as error:  # the one retry a handler asks for: a remote it must fetch is down
        assert str(error).startswith("cannot fetch"), error
        return
    assert isinstance(outcome, str) and outcome


@FUZZ
@given(document=documents, recipient=st.sampled_from([None, f"{LOCAL}/courses/gentle-python", GROUP, RUN]))
def test_handlers_record_an_outcome(session: Session, remote: Remote, document: Any, recipient: str | None) -> None:
    _world(session, remote)
    if not isinstance(document, dict):
        return
    activity = _local(document | {"actor": ACTOR}, session)
    with bounded(4.0):
        _handled(session, activity, _local(recipient, session))
    session.rollback()


# --- (a) the inbox over HTTP, then its worker ----------------------------------------------------------------

PATHS = ["/inbox", "/courses/gentle-python/inbox", "/actor/inbox", "/users/nobody/inbox", f"{RUN}/inbox"]
bodies = st.one_of(
    documents.map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=200),
    st.builds(
        lambda n, o, c: (o * n + c * n).encode(),
        st.integers(1, 200_000),
        st.sampled_from(["[", '{"a":']),
        st.sampled_from(["]", "}"]),
    ),  # fmt: skip
)


@FUZZ
@given(body=bodies, path=st.sampled_from(PATHS), as_actor=st.sampled_from([True, True, True, False]))
@example(body=b"[" * 100_000 + b"]" * 100_000, path="/inbox", as_actor=True)
def test_inbox_answers_2xx_or_4xx_and_the_worker_records(
    client: InstanceClient, session: Session, remote: Remote, body: bytes, path: str, as_actor: bool
) -> None:
    _world(session, remote)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    if as_actor and isinstance(document, dict):
        body = json.dumps(_local(document | {"actor": ACTOR}, session)).encode()
    path = _local(path, session).removeprefix(LOCAL)
    with bounded(4.0):
        response = signed_post(client, path, body, remote.keys[ACTOR])
    assert response.status_code in {202, 400, 401, 403, 404, 413}, (response.status_code, response.text)
    if response.status_code != 202:
        assert response.json()["error"]
    with bounded(8.0):
        client.process_inbox()
    session.expire_all()
    for row in session.scalars(select(InboxActivity)):
        # Recorded: an outcome, or an error the worker will retry that is a clear one.
        assert row.outcome or row.state == "queued", (row.state, row.last_error)
        assert not row.last_error or row.last_error.startswith(("RuntimeError: cannot fetch", "Invalid", "NotFound",
                                                                "PermissionDenied")), row.last_error  # fmt: skip
