"""Shared set-up of the course-world flow tests: a course, a run, cached remote actors (real Mastodon JSON)."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.folder import import_course
from courses.models import Course, Run
from courses.runs import create_run
from federation.entry.handlers import Inbound, dispatch
from federation.entry.prefetch import gather, handed_in
from federation.models import Delivery, RemoteActor
from federation.transport.fetch import store_actor
from tests.conftest import FIXTURES

GENTLE = FIXTURES / "courses" / "gentle-python"
MASTODON_PERSON = json.loads((FIXTURES / "activitypub" / "mastodon-person.json").read_text())


def remote_person(session: Session, name: str, host: str = "social.example") -> RemoteActor:
    """A Mastodon account in the actor cache (no fetch needed), built from the captured person JSON."""
    document = copy.deepcopy(MASTODON_PERSON)
    actor = f"https://{host}/users/{name}"
    document.update(
        id=actor, preferredUsername=name, name=name.title(), inbox=f"{actor}/inbox", followers=f"{actor}/followers",
        endpoints={"sharedInbox": f"https://{host}/inbox"},
    )  # fmt: skip
    document["publicKey"] = {**document["publicKey"], "id": f"{actor}#main-key", "owner": actor}
    return store_actor(session, document, actor)


def course_and_run(session: Session) -> tuple[Course, Run]:
    """gentle-python imported and a run of it (published as version 1)."""
    course = import_course(session, GENTLE)
    run = create_run(session, course, date(2030, 1, 7), "UTC", group_size=4)
    session.flush()
    return course, run


def receive(session: Session, activity: dict[str, Any], recipient: str | None = None) -> str:
    """Run the inbox handlers on `activity` as the worker would after verifying its signature.

    Like the worker, first fetch what the handlers need (committing `session` when something must
    be fetched: no transaction stays open across the network), then hand it in.
    """
    inbound = Inbound(
        session=session, activity=activity, actor=activity["actor"], recipient=recipient, activity_id=activity["id"]
    )
    return dispatch(handed_in(inbound, gather(inbound)))


def deliveries(session: Session, kind: str | None = None) -> list[tuple[Delivery, dict[str, Any]]]:
    """The delivery rows written so far with their parsed bodies, of one activity type if given."""
    session.flush()
    rows = [(row, json.loads(row.body)) for row in session.scalars(select(Delivery).order_by(Delivery.id))]
    return [(row, body) for row, body in rows if kind is None or body.get("type") == kind]
